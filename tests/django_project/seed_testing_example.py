"""The seed guide's Testing example exactly as written, but for the import path, run by
Django's test runner in a process gevent has not patched (as `manage.py test` is); see
tests/integration/producer_lib/test_seed_examples.py. Not collected by pytest (no `test_`
prefix)."""

from unittest.mock import patch, Mock
from django.test import TestCase
from producer_lib.aws_service import AWSService

from django.core.files.uploadedfile import SimpleUploadedFile

from upload_engine.scheduling import process_is_patched

# The guide's example uses `mock_file` without defining it: an upload as Django makes them.
mock_file = SimpleUploadedFile("test.pdf", b"%PDF-1.7 test", content_type="application/pdf")


class TestConcurrentUpload(TestCase):
    @patch('producer_lib.aws_service.gevent')
    @patch.object(AWSService, 's3')
    def test_concurrent_upload(self, mock_s3, mock_gevent):
        # Setup mocks
        mock_pool = Mock()
        mock_gevent.pool.Pool.return_value = mock_pool
        
        # Test your upload functionality
        aws_service = AWSService()
        result = aws_service.upload_files_concurrently(
            user_id=123,
            files={'test': mock_file},
            file_category="test"
        )
        
        # Verify gevent was used
        mock_gevent.pool.Pool.assert_called_once()


class TestTheProcessIsNotPatched(TestCase):
    def test_socket_is_not_patched(self) -> None:
        self.assertFalse(process_is_patched())
