"""Helpers shared by the tests, so no test module imports another: app factories and users
(``app``), signed Twilio webhook requests (``webhook``), a fake of Twilio's REST API
(``fake_twilio``) and Prism on Twilio's spec (``prism``), HTML scraping (``html``), buyer edit
forms (``buyers``), the example plugins (``plugins``) and the browser tests' setup
(``browser``). The fixtures themselves stay in ``tests/conftest.py``."""
