"""The app's server: ``streamlit run serve.py`` (``make run``) serves ``streamlit_app.py`` through Streamlit's
Starlette server, with two additions that need HTTP responses, which a Streamlit script cannot write: an
HttpOnly cookie that lets the Runs page list the runs kept from this browser (diagnostics/browser_key.py),
and the way back to a share link after signing in (diagnostics/sign_in_return.py)."""

import streamlit as st
from starlette.middleware import Middleware

from diagnostics.browser_key import BrowserKeyMiddleware
from diagnostics.sign_in_return import ReturnAfterSignInMiddleware

app = st.App("streamlit_app.py", middleware=[Middleware(ReturnAfterSignInMiddleware),
                                             Middleware(BrowserKeyMiddleware)])
