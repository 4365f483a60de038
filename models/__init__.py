"""Data contracts shared by the loader, the checks and the tests."""
