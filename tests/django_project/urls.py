from django.urls import include, path

from producer_lib.django import UploadEndpoints
from tests.django_project.views import DocumentUploadView, HelperUploadView, SerializerUploadView

# Browser uploads: the page at /uploads/, built from UPLOAD_STREAM_* on first use.
UPLOADS = UploadEndpoints.from_settings(
    file_types=["passport", "selfie", "utility_bill"], file_category="kyc_documents"
)

urlpatterns = [
    path("uploads/", include(UPLOADS.urls())),
    path("documents/", DocumentUploadView.as_view()),
    path("documents/serializer/", SerializerUploadView.as_view()),
    path("documents/helper/", HelperUploadView.as_view()),
]
