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
# and counts nothing either way. tests/accel/test_bf16.c (bf16 convolutions against float)
# is built and run the same way.

DN      := build/darknet
CUDA    ?= /usr/local/cuda
# SANITIZE=1 (make test SANITIZE=1): the tests are compiled with AddressSanitizer and UBSan
# and linked against build/test-asan (build/test-dnnl-asan) into build/tests-asan; the shell
# tests run build/test-asan/darknet and the tools there. Every finding aborts the program
# (SIGABRT), so run.sh and expect_error count it as a crash, never as a clean error exit.
# Leak checking is off: Darknet's commands keep their network, data and option lists until
# exit and its error paths exit() mid-parse, so LeakSanitizer would report those lifetime
# allocations in nearly every test; out-of-bounds accesses, use after free, double frees
# and undefined behaviour are all still checked. verify_asan_link_order=0: scripts/demo runs
# darknet under stdbuf, whose LD_PRELOAD library would otherwise come before the runtime.
SANITIZE?= 0
ifeq ($(SANITIZE),1)
SUFFIX  := -asan
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
export ASAN_OPTIONS  := halt_on_error=1:abort_on_error=1:detect_leaks=0:allocator_may_return_null=1:verify_asan_link_order=0
export UBSAN_OPTIONS := halt_on_error=1:abort_on_error=1:print_stacktrace=1
export TEST_TOOLS    := $(CURDIR)/build/tests-asan
export TEST_DARKNET  := $(CURDIR)/build/test-asan/darknet
export TEST_LOGS     := build/tests-asan/logs
endif
LIB     := build/test$(SUFFIX)/libdarknet.a
OUT     := build/tests$(SUFFIX)

CC      := gcc
# -MMD: a test object is rebuilt when darknet.h or a layer header changes (a patch that
# changes struct layer must not leave tests compiled against the old layout).
SRCDIRS := plugin layers data ood accel export
CPPFLAGS:= -I$(DN)/include -I$(DN)/src $(addprefix -Isrc/,$(SRCDIRS)) -Itests/lib -DCBLAS -DOPENCV -MMD -MP \
           $(shell pkg-config --cflags openblas 2>/dev/null) $(shell pkg-config --cflags opencv4 2>/dev/null)
CFLAGS  := -O2 -g -fno-fast-math $(SAN) -fopenmp -Wall -Wextra -Wno-unused-parameter \
           -Wno-unknown-pragmas -Werror=implicit-function-declaration
LDLIBS  := -lm -pthread $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas) \
           -lopencv_highgui -lopencv_videoio -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lstdc++ \
           -lprotobuf-c

HAVE_DNNL:= $(shell dpkg -s libdnnl-dev >/dev/null 2>&1 && echo 1)
DNNL_LIB := build/test-dnnl$(SUFFIX)/libdarknet.a
DNNL_TEST:= $(if $(HAVE_DNNL),$(OUT)/test_dnnl $(OUT)/test_bf16)

# The fuzz harnesses (tests/fuzz/fuzz_*.c; scripts/fuzz builds them with libFuzzer) built with
# tests/fuzz/fuzz_replay.c, a main that runs the files it is given through the harness, for
# tests/fuzz/test_fuzz_regressions.sh. The --wrap options route Darknet's exit(), allocations
# and fopen through tests/fuzz/fuzz_common.c.
FUZZ_SRC := $(filter-out tests/fuzz/fuzz_common.c tests/fuzz/fuzz_replay.c,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ     := $(addprefix $(OUT)/,$(basename $(notdir $(FUZZ_SRC))))
FUZZ_WRAP:= -Wl,--wrap=exit,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=fopen,--wrap=fclose

TEST_SRC := $(filter-out tests/accel/test_dnnl.c tests/accel/test_bf16.c,$(sort $(wildcard tests/*/test_*.c)))
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

build: $(TESTS) $(TOOLS) $(CXX_TOOLS) $(DNNL_TEST) $(FUZZ)

# Test programs and tools are named uniquely across the folders; vpath finds each source.
vpath %.c tests/lib tests/tools tests/fuzz $(sort $(dir $(TEST_SRC)))

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

$(FUZZ): $(OUT)/%: $(OUT)/%.o $(OUT)/fuzz_common.o $(OUT)/fuzz_replay.o $(LIB)
	@echo "  LINK   $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(FUZZ_WRAP) $(LDLIBS)

# The oneDNN comparisons: their own objects (compiled with -DDNNL) and library.
$(OUT)/test_dnnl.o $(OUT)/test_bf16.o: $(OUT)/%.o: tests/accel/%.c | $(OUT)
	@echo "  CC     $<"
	@$(CC) $(CPPFLAGS) -DDNNL $(CFLAGS) -c $< -o $@

$(OUT)/test_dnnl $(OUT)/test_bf16: $(OUT)/%: $(OUT)/%.o $(COMMON) $(DNNL_LIB)
	@echo "  LINK   $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -ldnnl

# tests/darknet/test_grouped_experts.c also against the oneDNN build (grouped oneDNN
# convolutions against the separate branches' Winograd and oneDNN ones), as
# test_grouped_experts_dnnl; like test_dnnl, only where libdnnl-dev is installed.
GROUPED_DNNL := $(if $(HAVE_DNNL),$(OUT)/test_grouped_experts_dnnl)
DNNL_TEST    += $(GROUPED_DNNL)
build: $(GROUPED_DNNL)

$(OUT)/test_grouped_experts_dnnl.o: tests/darknet/test_grouped_experts.c | $(OUT)
	@echo "  CC     $< (oneDNN)"
	@$(CC) $(CPPFLAGS) -DDNNL $(CFLAGS) -c $< -o $@

$(OUT)/test_grouped_experts_dnnl: $(OUT)/test_grouped_experts_dnnl.o $(COMMON) $(DNNL_LIB)
	@echo "  LINK   $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -ldnnl

$(OUT):
	@mkdir -p $@

.SECONDARY:

-include $(wildcard $(OUT)/*.d)
