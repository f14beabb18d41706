"""English formats: Django's own (commas every three digits), with dates that
cannot be misread ("3 Dec 2026", never "03/12/2026" or "Dec. 3, 2026") and
24-hour times ("3 Dec 2026, 08:36"). See common/formatting.py."""

from django.conf.locale.en.formats import *  # noqa: F403

DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j M"
