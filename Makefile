# RICASSO for Darknet: builds ./darknet from the pinned Debian source package of pjreddie's
# Darknet, patched by darknet-patches/series, with the project's src/ (plugin registry, layers, data, ood, accel) compiled in.
#
#   make                 CPU build (OpenMP, OpenCV, OpenBLAS, oneDNN convolutions) -> ./darknet
#   make DNNL=0          the same without oneDNN (Darknet's im2col + OpenBLAS gemm)
#   make GPU=1 CUDNN=1   CUDA 13 + cuDNN 9 build             -> ./darknet
#   make test            test build (-O2 -fno-fast-math) and the whole test suite
#   make test SANITIZE=1 the same with AddressSanitizer and UBSan (build/test-asan, build/tests-asan)
#   make demo            install what is missing, build, run the main job
#
# Options (0 or 1): GPU CUDNN OPENCV OPENMP OPENBLAS DNNL DEBUG. Each set of options builds in its
# own folder under build/, so switching between them rebuilds nothing that is up to date.
# DARKNET_SRC_CACHE names a folder holding the source tarballs (default build/dl): when they
# are there with the pinned SHA-256, no network is used.

GPU      ?= 0
CUDNN    ?= 0
OPENCV   ?= 1
OPENMP   ?= 1
OPENBLAS ?= 1
DNNL     ?= 1
DEBUG    ?= 0
SANITIZE ?= 0

CACHE    := $(or $(DARKNET_SRC_CACHE),build/dl)
DNTREE   := build/darknet
DNSTAMP  := build/darknet.stamp
PATCHES  := darknet-patches/UPSTREAM darknet-patches/series $(wildcard darknet-patches/*.patch)

VARIANT  := $(if $(filter 1,$(GPU)),gpu,cpu)$(if $(filter 1,$(CUDNN)),-cudnn)$(if $(filter 0,$(OPENCV)),-noopencv)$(if $(filter 0,$(OPENMP)),-noomp)$(if $(filter 0,$(OPENBLAS)),-noblas)$(if $(filter 1,$(DNNL)),-dnnl)$(if $(filter 1,$(DEBUG)),-debug)
OPTIONS  := GPU=$(GPU) CUDNN=$(CUDNN) OPENCV=$(OPENCV) OPENMP=$(OPENMP) OPENBLAS=$(OPENBLAS) DNNL=$(DNNL) DEBUG=$(DEBUG)

.PHONY: all darknet source test test-build gpu-build demo bench clean distclean
all: darknet

# ./darknet is a link to the binary of the last option set built.
darknet: $(DNSTAMP)
ifeq ($(DNNL),1)
	@printf '#include <dnnl.h>\n' | $(or $(CC),cc) -E -x c - >/dev/null 2>&1 || { echo "make: DNNL=1 (the default) needs oneDNN's headers: scripts/install-deps installs libdnnl-dev; make DNNL=0 builds without oneDNN" >&2; exit 1; }
endif
	@$(MAKE) --no-print-directory -f mk/build.mk $(OPTIONS) VARIANT=$(VARIANT)
	@[ "$$(readlink darknet 2>/dev/null)" = "build/$(VARIANT)/darknet" ] || ln -sfn build/$(VARIANT)/darknet darknet

source: $(DNSTAMP)

$(CACHE)/.verified: darknet-patches/UPSTREAM scripts/fetch-darknet
	scripts/fetch-darknet $(CACHE)
	@touch $@

$(DNSTAMP): $(CACHE)/.verified $(PATCHES) scripts/prepare-darknet
	scripts/prepare-darknet $(CACHE) $(DNTREE)
	@touch $@

# The test build keeps IEEE semantics (no -ffast-math) so that NaN and Inf checks hold.
# With libdnnl-dev installed there is a second one with DNNL=1 (build/test-dnnl), against
# which tests/accel/test_dnnl.c compares the oneDNN convolutions with Darknet's own.
# SANITIZE=1 builds the same two with AddressSanitizer and UBSan, in folders of their own
# (build/test-asan, build/test-dnnl-asan); tests/tests.mk then links the tests against them.
HAVE_DNNL := $(shell dpkg -s libdnnl-dev >/dev/null 2>&1 && echo 1)
TEST_SUFFIX := $(if $(filter 1,$(SANITIZE)),-asan)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
TEST_OPTS := -O2 -g -fno-fast-math $(if $(filter 1,$(SANITIZE)),$(SAN_FLAGS))
test-build: $(DNSTAMP)
	@$(MAKE) --no-print-directory -f mk/build.mk GPU=0 CUDNN=0 OPENCV=1 OPENMP=1 OPENBLAS=1 VARIANT=test$(TEST_SUFFIX) OPTS="$(TEST_OPTS)"
ifeq ($(HAVE_DNNL),1)
	@$(MAKE) --no-print-directory -f mk/build.mk GPU=0 CUDNN=0 OPENCV=1 OPENMP=1 OPENBLAS=1 DNNL=1 VARIANT=test-dnnl$(TEST_SUFFIX) OPTS="$(TEST_OPTS)"
endif

gpu-build: $(DNSTAMP)
	@$(MAKE) --no-print-directory -f mk/build.mk GPU=1 CUDNN=1 OPENCV=1 OPENMP=1 OPENBLAS=1 VARIANT=gpu-cudnn

test: darknet test-build
	@$(MAKE) --no-print-directory -f tests/tests.mk run SANITIZE=$(SANITIZE)

demo:
	scripts/install-deps
	@$(MAKE) --no-print-directory darknet
	scripts/demo

bench: darknet
	scripts/bench-cpu

clean:
	rm -rf build/cpu* build/gpu* build/test build/test-dnnl build/tests build/*-asan darknet

distclean:
	rm -rf build darknet
