"""The admin token of the tests (the ``settings`` fixtures pass it) and its request header."""

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
