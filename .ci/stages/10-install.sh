# Fresh venv, editable install with the test and dev extras (compiles _native/).
python3 -m venv "$VENV"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q -e ".[test,dev]"
"$PY" -m vllsi info
