"""Views of the web application, one module per area (each with its ``urlpatterns``)."""
