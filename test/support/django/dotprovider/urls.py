"""
DOT's URLs under /o/, Django's login views under /accounts/. DOT 1.7 routes its discovery document
at /o/.well-known/openid-configuration/ only (with a trailing slash), while OpenID Connect Discovery
(section 4) reads it from the issuer plus /.well-known/openid-configuration: unless
CODEFLOW_DOT_STOCK_URLS is set, the same view is routed there too, as a deployment must do.
"""
import os

from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from oauth2_provider import views as oauth2_views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]

if not os.environ.get("CODEFLOW_DOT_STOCK_URLS"):
    urlpatterns.insert(
        0,
        re_path(
            r"^o/\.well-known/openid-configuration$",
            oauth2_views.ConnectDiscoveryInfoView.as_view(),
        ),
    )
