"""
`manage.py codeflow_setup FILE`: creates the users and the OAuth applications a JSON file lists
(test/support/django-provider.ts writes it), on a migrated database.
"""
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model


class Command(BaseCommand):
    help = "Creates the users and applications of a JSON file"

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **options):
        with open(options["file"]) as f:
            spec = json.load(f)
        User = get_user_model()
        for user in spec.get("users", []):
            User.objects.create_user(
                username=user["username"],
                password=user["password"],
                email=user.get("email", ""),
                first_name=user.get("firstName", ""),
                last_name=user.get("lastName", ""),
            )
        Application = get_application_model()
        for app in spec.get("applications", []):
            application = Application(
                name=app["name"],
                client_id=app["clientId"],
                client_secret=app["clientSecret"],
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
                redirect_uris=" ".join(app["redirectUris"]),
                algorithm=Application.RS256_ALGORITHM,
                skip_authorization=app.get("skipAuthorization", False),
            )
            application.full_clean()
            application.save()
        ids = {user.username: user.pk for user in User.objects.all()}
        self.stdout.write(json.dumps({"users": ids}))
