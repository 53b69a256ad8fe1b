# The two commands of the README: `make book` and `make test`. Both create the virtual
# environment on first use, so a fresh clone needs nothing but python3 and a package index.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# nbgrader runs helper programs (alembic) by name, so the environment's bin/ comes first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
ASSIGNMENTS := $(notdir $(wildcard solutions/[0-9]*))

.PHONY: book test bench exercises clean venv screenshots

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(PY) -m pytest tests src book solutions --nbval-lax

bench: $(STAMP)
	$(PY) -m tests.benchmarks

exercises: $(STAMP)
	for a in $(ASSIGNMENTS); do nbgrader generate_assignment $$a --force --log-level=WARN || exit 1; done

clean:
	rm -rf _build submitted autograded feedback gradebook.db grades.csv .grading-cache screenshots

# Full-page screenshots of every page of the book at desktop and phone width, in screenshots/,
# for a look at the site without a browser of one's own. Needs Debian's chromium package.
screenshots: book
	$(PY) -m tests.browser _build/html screenshots
