"""The app's server: ``streamlit run serve.py`` (``make run``) serves ``streamlit_app.py`` through Streamlit's
Starlette server, with one addition: an HttpOnly cookie that lets the Runs page list the runs kept from this
browser (diagnostics/browser_key.py says why it is set here and not by the app)."""

import streamlit as st
from starlette.middleware import Middleware

from diagnostics.browser_key import BrowserKeyMiddleware

app = st.App("streamlit_app.py", middleware=[Middleware(BrowserKeyMiddleware)])
