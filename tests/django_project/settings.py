"""Minimal Django settings for the seed's DRF examples under Django's test client.

No database: the examples need none, and `auth.HeaderUserAuthentication` stands in for a
logged-in user.
"""

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "tests.django_project.urls"
INSTALLED_APPS = ["rest_framework"]
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tests.django_project.auth.HeaderUserAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
