# The test suite; called by the top Makefile as `make -f tests/tests.mk run` after test-build.
#
# tests/ mirrors src/ (tests/layers, tests/ood, tests/plugin, tests/accel), plus tests/e2e
# (whole cfgs trained through ./darknet), tests/scripts (the scripts/ tools), tests/darknet
# (what darknet-patches add to Darknet itself), tests/lib (the
# harness, the gradient checker and the shell helpers every test shares) and tests/tools
# (helper programs for the shell tests; never run as tests).
#
# Every tests/*/test_*.c is one program and every tests/tools/tool_*.c one helper program.
# Both link tests/lib/harness.c and tests/lib/gradcheck.c against build/test/libdarknet.a (the
# -O2 -fno-fast-math build) into build/tests/ (one flat folder: the shell tests find the tools
# there by name). tests/run.sh then runs each test program and each tests/*/test_*.sh, checks
# the GPU build when nvcc is there, and prints the one final line "N passed, N failed".
#
# tests/accel/test_dnnl.c is the exception: it compares the oneDNN convolutions with Darknet's own
# and links build/test-dnnl/libdarknet.a (the same test build with DNNL=1, made by the top
# Makefile when libdnnl-dev is installed). Without libdnnl-dev it is neither built nor run,
# and counts nothing either way.

DN      := build/darknet
LIB     := build/test/libdarknet.a
OUT     := build/tests
CUDA    ?= /usr/local/cuda

CC      := gcc
# -MMD: a test object is rebuilt when darknet.h or a layer header changes (a patch that
# changes struct layer must not leave tests compiled against the old layout).
SRCDIRS := plugin layers data ood accel export
CPPFLAGS:= -I$(DN)/include -I$(DN)/src $(addprefix -Isrc/,$(SRCDIRS)) -Itests/lib -DCBLAS -DOPENCV -MMD -MP \
           $(shell pkg-config --cflags openblas 2>/dev/null) $(shell pkg-config --cflags opencv4 2>/dev/null)
CFLAGS  := -O2 -g -fno-fast-math -fopenmp -Wall -Wextra -Wno-unused-parameter \
           -Wno-unknown-pragmas -Werror=implicit-function-declaration
LDLIBS  := -lm -pthread $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas) \
           -lopencv_highgui -lopencv_videoio -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lstdc++ \
           -lprotobuf-c

HAVE_DNNL:= $(shell dpkg -s libdnnl-dev >/dev/null 2>&1 && echo 1)
DNNL_LIB := build/test-dnnl/libdarknet.a
DNNL_TEST:= $(if $(HAVE_DNNL),$(OUT)/test_dnnl)

TEST_SRC := $(filter-out tests/accel/test_dnnl.c,$(sort $(wildcard tests/*/test_*.c)))
TOOL_SRC := $(sort $(wildcard tests/tools/tool_*.c))
TESTS    := $(addprefix $(OUT)/,$(basename $(notdir $(TEST_SRC))))
TOOLS    := $(addprefix $(OUT)/,$(basename $(notdir $(TOOL_SRC))))
# C++ tools use OpenCV alone (tool_onnx_run: OpenCV's dnn module runs the exported ONNX models).
CXX_TOOL_SRC := $(sort $(wildcard tests/tools/tool_*.cpp))
CXX_TOOLS:= $(addprefix $(OUT)/,$(basename $(notdir $(CXX_TOOL_SRC))))
COMMON   := $(OUT)/harness.o $(OUT)/gradcheck.o

.PHONY: run build
# A program that does not compile is reported by run.sh as a failed test; the others still run.
run:
	@$(MAKE) --no-print-directory -f tests/tests.mk -k build || echo "tests: some programs did not build"
	@$(if $(HAVE_DNNL),,echo "libdnnl-dev not installed: oneDNN path not checked")
	@tests/run.sh $(TESTS) $(DNNL_TEST)

build: $(TESTS) $(TOOLS) $(CXX_TOOLS) $(DNNL_TEST)

# Test programs and tools are named uniquely across the folders; vpath finds each source.
vpath %.c tests/lib tests/tools $(sort $(dir $(TEST_SRC)))

$(OUT)/%.o: %.c | $(OUT)
	@echo "  CC     $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(OUT)/%: $(OUT)/%.o $(COMMON) $(LIB)
	@echo "  LINK   $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(CXX_TOOLS): $(OUT)/%: tests/tools/%.cpp | $(OUT)
	@echo "  CXX    $<"
	@g++ -std=c++11 -O2 -g -Wall -Wextra $(shell pkg-config --cflags opencv4) $< -o $@ \
	    -lopencv_dnn -lopencv_imgcodecs -lopencv_imgproc -lopencv_core

# The oneDNN comparison: its own object (compiled with -DDNNL) and library.
$(OUT)/test_dnnl.o: tests/accel/test_dnnl.c | $(OUT)
	@echo "  CC     $<"
	@$(CC) $(CPPFLAGS) -DDNNL $(CFLAGS) -c $< -o $@

$(OUT)/test_dnnl: $(OUT)/test_dnnl.o $(COMMON) $(DNNL_LIB)
	@echo "  LINK   $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -ldnnl

$(OUT):
	@mkdir -p $@

.SECONDARY:

-include $(wildcard $(OUT)/*.d)
