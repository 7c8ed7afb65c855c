# `make demo` and `make test` each set up .venv on a fresh machine (Python 3.11), then run.
PYTHON ?= python3
VENV := .venv
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
EXPORT_STAMP := $(VENV)/.installed-export
# Installed without its dependencies: it caps orbax-checkpoint below our pin (see setup.cfg).
JAX2ONNX := jax2onnx==0.17.1

.PHONY: demo test install export ops clean

# `make demo` installs the package alone (no PyTorch, torchvision or Ultralytics); `make test` adds
# the test extra. Each stamp is redone when setup.cfg or pyproject.toml change.
$(DEMO_STAMP): setup.cfg pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e .
	touch $(DEMO_STAMP)

$(TEST_STAMP): $(DEMO_STAMP)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	$(VENV)/bin/python -m pip install --quiet --no-deps $(JAX2ONNX)
	touch $(TEST_STAMP)

# ONNX export (--config.export=onnx): the export extra and jax2onnx.
$(EXPORT_STAMP): $(DEMO_STAMP)
	$(VENV)/bin/python -m pip install --quiet -e '.[export]'
	$(VENV)/bin/python -m pip install --quiet --no-deps $(JAX2ONNX)
	touch $(EXPORT_STAMP)

export: $(EXPORT_STAMP)

install: $(DEMO_STAMP)

# The oneDNN convolution (vision_jax/ops); a machine that cannot build it says so and goes on.
ops: $(DEMO_STAMP)
	$(VENV)/bin/python -m vision_jax.ops.build

demo: ops
	$(VENV)/bin/python launch.py --config=configs/digits_cnn.py --workdir=runs/digits_cnn

test: ops $(TEST_STAMP)
	$(VENV)/bin/python -m pytest -n 2 --dist worksteal --durations=15 --tb=native tests

clean:
	rm -rf $(VENV) runs vision_jax/ops/_onednn_conv.so
