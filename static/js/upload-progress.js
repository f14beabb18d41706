/* Upload progress for forms marked data-upload-progress.
 *
 * When a file is chosen, the form is sent with XMLHttpRequest so its upload
 * progress can be shown in the form's .upload-progress element; the answer
 * (the page a redirect leads to, or the form again with its errors) then
 * replaces the page, as an ordinary post would. Without JavaScript, or
 * without a file, the form posts as usual. The texts come translated in the
 * element's data-* attributes; no inline script or style (CSP).
 */
(function () {
  "use strict";

  function hasFile(form) {
    return Array.prototype.some.call(form.querySelectorAll("input[type=file]"), function (input) {
      return input.files && input.files.length > 0;
    });
  }

  function show(box, text, percent) {
    box.hidden = false;
    box.querySelector(".upload-progress-text").textContent = text;
    var meter = box.querySelector("progress");
    if (percent === null) {
      meter.removeAttribute("value"); // indeterminate: the server is working
    } else {
      meter.value = percent;
    }
  }

  function setButtons(form, disabled) {
    Array.prototype.forEach.call(form.querySelectorAll("button, input[type=submit]"), function (b) {
      b.disabled = disabled;
    });
  }

  function replacePage(xhr, hash) {
    var url = xhr.responseURL || window.location.href;
    window.history.replaceState(null, "", url.split("#")[0] + hash);
    document.open();
    document.write(xhr.responseText);
    document.close();
  }

  function attach(form) {
    var box = form.querySelector(".upload-progress");
    if (!box || !window.FormData || !("upload" in new XMLHttpRequest())) {
      return;
    }
    form.addEventListener("submit", function (event) {
      if (!hasFile(form)) {
        return;
      }
      event.preventDefault();
      var data = new FormData(form);
      var submitter = event.submitter;
      if (submitter && submitter.name) {
        data.append(submitter.name, submitter.value);
      }
      var action = form.getAttribute("action") || window.location.href;
      var hash = action.indexOf("#") >= 0 ? action.slice(action.indexOf("#")) : "";
      var xhr = new XMLHttpRequest();
      xhr.open("POST", action);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          var percent = Math.round((e.loaded / e.total) * 100);
          show(box, box.dataset.sending.replace("{percent}", percent + "%"), percent);
        }
      });
      xhr.upload.addEventListener("load", function () {
        show(box, box.dataset.processing, null);
      });
      xhr.addEventListener("load", function () {
        replacePage(xhr, hash);
      });
      xhr.addEventListener("error", function () {
        show(box, box.dataset.failed, 0);
        setButtons(form, false);
      });
      show(box, box.dataset.sending.replace("{percent}", "0%"), 0);
      setButtons(form, true);
      xhr.send(data);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-upload-progress]"), attach);
})();
