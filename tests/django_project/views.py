"""The seed guide's DRF examples, verbatim but for the import line
(`from ocr.services.aws import AWSService` -> `from producer_lib import AWSService`)."""

from typing import Any

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from producer_lib import AWSService
from producer_lib.django import files_from_request


class DocumentUploadView(APIView):
    def post(self, request: Any) -> Response:
        aws_service = AWSService()

        # Extract files from request
        files = {
            "passport": request.FILES.get("passport"),
            "utility_bill": request.FILES.get("utility_bill"),
            "bank_statement": request.FILES.get("bank_statement"),
        }

        # Filter out None values
        files = {k: v for k, v in files.items() if v is not None}

        if not files:
            return Response({"error": "No files provided"}, status=400)

        try:
            urls = aws_service.upload_files_concurrently(
                user_id=request.user.pk,
                files=files,
                file_category="verification_documents",
                max_workers=len(files),  # One worker per file
            )

            return Response(
                {
                    "status": "success",
                    "uploaded_files": urls,
                    "uploaded_count": len(urls),
                    "total_files": len(files),
                }
            )

        except Exception as e:
            return Response({"error": f"Upload failed: {e!s}"}, status=500)


class DocumentUploadSerializer(serializers.Serializer[Any]):
    passport = serializers.FileField(required=False)
    utility_bill = serializers.FileField(required=False)
    bank_statement = serializers.FileField(required=False)

    def save(self, user: Any) -> Any:  # type: ignore[override]
        aws_service = AWSService()

        files = {k: v for k, v in self.validated_data.items() if v is not None}

        return aws_service.upload_files_concurrently(
            user_id=user.pk, files=files, file_category="user_documents"
        )


class SerializerUploadView(APIView):
    """Drives the seed's serializer the usual DRF way."""

    def post(self, request: Any) -> Response:
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"uploaded_files": serializer.save(user=request.user)})


class HelperUploadView(APIView):
    """The same view written with `files_from_request`."""

    def post(self, request: Any) -> Response:
        files = files_from_request(request, ["passport", "utility_bill", "bank_statement"])
        if not files:
            return Response({"error": "No files provided"}, status=400)
        urls = AWSService().upload_files_concurrently(
            user_id=request.user.pk, files=files, file_category="verification_documents"
        )
        return Response({"uploaded_files": urls})
