"""A one-file Django project: JSON on `/`, with a query through Django's ORM on
SQLite (Debian's Python ships the sqlite3 module)."""

import sys

from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="example-only-not-a-secret",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=["django.contrib.contenttypes"],
)

import django  # noqa: E402

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def index(request):
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()")
        (sqlite,) = cursor.fetchone()
    return JsonResponse(
        {
            "message": "hello from django on cairn",
            "django": django.get_version(),
            "python": sys.version.split()[0],
            "sqlite": sqlite,
        }
    )


urlpatterns = [path("", index)]
application = get_wsgi_application()
