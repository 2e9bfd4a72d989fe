from django.urls import path

from tests.django_project.views import DocumentUploadView, HelperUploadView, SerializerUploadView

urlpatterns = [
    path("documents/", DocumentUploadView.as_view()),
    path("documents/serializer/", SerializerUploadView.as_view()),
    path("documents/helper/", HelperUploadView.as_view()),
]
