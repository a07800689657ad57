"""Open311 GeoReport v2 at /open311/v2/ (https://wiki.open311.org/GeoReport_v2): the 12345
hotline platform, or any system speaking the standard, reads the county's services and opens
rectification tickets (整改单) with an api_key — a personal access token
(villages/people/tokens.py). Plain Django views, not the ninja API: the standard fixes its own
URLs, parameters and XML."""
