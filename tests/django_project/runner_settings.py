"""settings.py plus an in-memory SQLite database, for Django's own test runner:
`django.test.TestCase` (the seed guide's Testing example) wraps each test in a transaction."""

from tests.django_project.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
