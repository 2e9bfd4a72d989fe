"""Minimal Django settings for the seed's DRF examples under Django's test client.

No database: the examples need none, and `auth.HeaderUserAuthentication` stands in for a
logged-in user.
"""

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.django_project.urls"
INSTALLED_APPS = ["rest_framework"]
# Sets the CSRF cookie the upload page sends back (the upload views check it themselves).
MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tests.django_project.auth.HeaderUserAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
