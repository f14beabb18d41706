"""Strings from dependencies whose bundled Chinese catalogs lack them or
read badly.

Django 5.2's zh_Hans catalog has no translation for these password-validator
messages, so sign-up errors would show in English; and it "translates" the
form label suffix as an ASCII colon, so Chinese labels read "申请金额:"
instead of "申请金额：". allauth's Chinese mixes 帐户/账户/账号 and
Email/电子邮件/邮箱 and says "错误代码。" for a wrong TOTP code: the strings
of its pages that our users see (sign-in, sign-up, e-mail confirmation,
password reset, e-mail addresses, two-factor set-up and sign-in) are listed
here too, and our catalog says them in the site's words: 账号 for a user's
account (账户 is a bank account), 电子邮箱 (or 邮箱) for an e-mail address,
邮件 for a message, 验证码 for a one-time code, 恢复码 for recovery codes.
Listing them here puts them in our catalog (``scripts/i18n.py update``),
which takes precedence at run time. Nothing imports this module;
makemessages reads it.
"""

from django.utils.translation import gettext_noop, ngettext_lazy

STRINGS = [
    # The suffix forms add after a label, and the characters that, ending a
    # label, make the suffix unnecessary ("我方承诺履行上述义务。" gets no colon).
    gettext_noop(":"),
    gettext_noop(":?.!"),
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        0,
    ),
    gettext_noop("This password is too common."),
    gettext_noop("This password is entirely numeric."),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    # allauth's (and Django's) strings on the sign-in, sign-up, e-mail,
    # password-reset and two-factor pages, in the site's words.
    gettext_noop("Email"),
    gettext_noop("Email address"),
    gettext_noop("email address"),
    gettext_noop("email addresses"),
    gettext_noop("Enter a valid email address."),
    gettext_noop("The email address and/or password you specified are not correct."),
    gettext_noop("A user is already registered with this email address."),
    gettext_noop("This account is inactive."),
    gettext_noop("Password (again)"),
    gettext_noop("New Password (again)"),
    gettext_noop("Already have an account? Then please %(link)ssign in%(end_link)s."),
    gettext_noop(
        "If you have not created an account yet, then please %(link)ssign up%(end_link)s first."
    ),
    gettext_noop("Successfully signed in as %(name)s."),
    gettext_noop("You have signed out."),
    gettext_noop("Sign Out"),
    gettext_noop("Are you sure you want to sign out?"),
    gettext_noop("Incorrect password."),
    gettext_noop("Invalid or expired key."),
    gettext_noop("Accounts"),
    gettext_noop("Verify Your Email Address"),
    gettext_noop("Confirm Email Address"),
    gettext_noop(
        'Please confirm that <a href="mailto:%(email)s">%(email)s</a> is an email address for user %(user_display)s.'
    ),
    gettext_noop(
        "Unable to confirm %(email)s because it is already confirmed by a different account."
    ),
    gettext_noop(
        'This email confirmation link expired or is invalid. Please <a href="%(email_url)s">issue a new email confirmation request</a>.'
    ),
    gettext_noop("You have confirmed %(email)s."),
    gettext_noop("Confirmation email sent to %(email)s."),
    gettext_noop("Please Confirm Your Email Address"),
    gettext_noop("Email Confirmation"),
    gettext_noop("Your email has been confirmed."),
    gettext_noop(
        "You're receiving this email because user %(user_display)s has given your email address to register an account on %(site_domain)s."
    ),
    gettext_noop("To confirm this is correct, go to %(activate_url)s"),
    gettext_noop("Hello from %(site_name)s!"),
    gettext_noop("Thank you for using %(site_name)s!\n%(site_domain)s"),
    gettext_noop("email confirmation"),
    gettext_noop("email confirmations"),
    gettext_noop("Mark selected email addresses as verified"),
    gettext_noop(
        "Forgotten your password? Enter your email address below, and we'll send you an email allowing you to reset it."
    ),
    gettext_noop("Reset My Password"),
    gettext_noop("Password Reset"),
    gettext_noop(
        "We have sent you an email. If you have not received it please check your spam folder. Otherwise contact us if you do not receive it in a few minutes."
    ),
    gettext_noop("Bad Token"),
    gettext_noop(
        'The password reset link was invalid, possibly because it has already been used.  Please request a <a href="%(passwd_reset_url)s">new password reset</a>.'
    ),
    gettext_noop("The password reset token was invalid."),
    gettext_noop("Your password is now changed."),
    gettext_noop(
        "You're receiving this email because you or someone else has requested a password reset for your user account.\nIt can be safely ignored if you did not request a password reset. Click the link below to reset your password."
    ),
    gettext_noop("The email address is not assigned to any user account."),
    gettext_noop("Password Reset Email"),
    gettext_noop("Email Addresses"),
    gettext_noop("The following email addresses are associated with your account:"),
    gettext_noop("Unverified"),
    gettext_noop("Primary"),
    gettext_noop("Make Primary"),
    gettext_noop("Re-send Verification"),
    gettext_noop("Add Email Address"),
    gettext_noop("Add Email"),
    gettext_noop("Do you really want to remove the selected email address?"),
    gettext_noop("Primary email address set."),
    gettext_noop("Removed email address %(email)s."),
    gettext_noop("Your primary email address must be verified."),
    gettext_noop("You cannot remove your primary email address (%(email)s)."),
    gettext_noop(
        "You cannot add an email address to an account protected by two-factor authentication."
    ),
    gettext_noop("Incorrect code."),
    gettext_noop("Code"),
    gettext_noop("Authenticator code"),
    gettext_noop("Two-Factor Authentication"),
    gettext_noop(
        "Your account is protected by two-factor authentication. Please enter an authenticator code:"
    ),
    gettext_noop("Activate Authenticator App"),
    gettext_noop(
        "To protect your account with two-factor authentication, scan the QR code below with your authenticator app. Then, input the verification code generated by the app below."
    ),
    gettext_noop("Activate"),
    gettext_noop("Authentication using an authenticator app is active."),
    gettext_noop("Authenticator app activated."),
    gettext_noop("An authenticator app is not active."),
    gettext_noop("Recovery Codes"),
    gettext_noop("Recovery codes"),
    ngettext_lazy(
        "There is %(unused_count)s out of %(total_count)s recovery codes available.",
        "There are %(unused_count)s out of %(total_count)s recovery codes available.",
        0,
    ),
    gettext_noop("No recovery codes set up."),
    gettext_noop("A new set of recovery codes has been generated."),
    gettext_noop("Unused codes"),
    gettext_noop("Download codes"),
    gettext_noop("Generate new codes"),
    gettext_noop("You are about to generate a new set of recovery codes for your account."),
    gettext_noop("This action will invalidate your existing codes."),
    gettext_noop(
        "You cannot generate recovery codes without having two-factor authentication enabled."
    ),
    gettext_noop(
        "You cannot activate two-factor authentication until you have verified your email address."
    ),
    gettext_noop("Enter an authenticator code:"),
    gettext_noop("Please reauthenticate to safeguard your account."),
    gettext_noop("Confirm Access"),
    gettext_noop("Enter your password:"),
    gettext_noop("Use authenticator app or code"),
    gettext_noop("Alternative options"),
    gettext_noop(
        "You are about to deactivate authenticator app based authentication. Are you sure?"
    ),
    # Django's password help on the sign-up page says 你 where every other
    # line of the site says 您.
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        0,
    ),
    gettext_noop("Your password can’t be too similar to your other personal information."),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("Your password can’t be entirely numeric."),
]
