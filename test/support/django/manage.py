#!/usr/bin/env python3
"""The Django project of the interop tests (test/support/django-provider.ts starts it)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dotprovider.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
