"""Streamlit entry point: `streamlit run app.py`. (Home page placeholder until the app issue lands.)"""

import streamlit as st

st.set_page_config(page_title="MM-CSE audio-visual video parsing", layout="wide")
st.title("MM-CSE: audio-visual video parsing")
st.write("The app is being built. Run `python -m mmcse --help` for the command line.")
