"""Document uploads show their progress through a small static script: the
forms carry the hook and the translated texts, and still post without it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.accounts.factories import EnterpriseFactory
from tests.applications.factories import application
from tests.programs.factories import ProgramFactory
from tests.vouchers.factories import client_for, member

pytestmark = pytest.mark.django_db

SCRIPT = Path(settings.BASE_DIR) / "static" / "js" / "upload-progress.js"


@pytest.mark.parametrize(
    ("language", "sending"), [("en", "Uploading… {percent}"), ("zh-hans", "正在上传… {percent}")]
)
def test_the_application_form_carries_the_progress_bar_and_no_inline_script(
    language, sending
) -> None:
    draft = application(EnterpriseFactory(), ProgramFactory(application_round=True))
    client = client_for(member(draft.enterprise))
    html = client.get(
        reverse("application_edit", args=[draft.pk]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    form = html[html.index('<form method="post" enctype="multipart/form-data"') :]
    form = form[: form.index("</form>")]
    assert "data-upload-progress" in form
    assert f'data-sending="{sending}"' in form
    assert "<progress" in form
    assert '/static/js/upload-progress.js"' in html
    # Every script comes from a file (the CSP allows no inline script).
    assert all(re.search(r"\bsrc=", tag) for tag in re.findall(r"<script[^>]*>", html))


def test_the_script_is_small_and_waits_for_a_chosen_file() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 120
    assert 'xhr.upload.addEventListener("progress"' in text
    assert "if (!hasFile(form))" in text  # without a file, the ordinary post
