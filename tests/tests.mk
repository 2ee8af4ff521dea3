# The test suite; called by the top Makefile as `make -f tests/tests.mk run` after test-build.
#
# Every tests/test_*.c is one program and every tests/tool_*.c one helper program (used by
# the shell tests; never run as a test). Both link tests/harness.c and tests/gradcheck.c
# against build/test/libdarknet.a (the -O2 -fno-fast-math build) into build/tests/.
# tests/run.sh then runs each test program and each tests/test_*.sh, checks the GPU build
# when nvcc is there, and prints the one final line "N passed, N failed".

DN      := build/darknet
LIB     := build/test/libdarknet.a
OUT     := build/tests
CUDA    ?= /usr/local/cuda

CC      := gcc
# -MMD: a test object is rebuilt when darknet.h or a layer header changes (a patch that
# changes struct layer must not leave tests compiled against the old layout).
CPPFLAGS:= -I$(DN)/include -I$(DN)/src -Isrc/layers -Itests -DCBLAS -DOPENCV -MMD -MP \
           $(shell pkg-config --cflags openblas 2>/dev/null) $(shell pkg-config --cflags opencv4 2>/dev/null)
CFLAGS  := -O2 -g -fno-fast-math -fopenmp -Wall -Wextra -Wno-unused-parameter \
           -Wno-unknown-pragmas -Werror=implicit-function-declaration
LDLIBS  := -lm -pthread $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas) \
           -lopencv_highgui -lopencv_videoio -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lstdc++

TEST_SRC := $(sort $(wildcard tests/test_*.c))
TOOL_SRC := $(sort $(wildcard tests/tool_*.c))
TESTS    := $(patsubst tests/%.c,$(OUT)/%,$(TEST_SRC))
TOOLS    := $(patsubst tests/%.c,$(OUT)/%,$(TOOL_SRC))
COMMON   := $(OUT)/harness.o $(OUT)/gradcheck.o

.PHONY: run build
# A program that does not compile is reported by run.sh as a failed test; the others still run.
run:
	@$(MAKE) --no-print-directory -f tests/tests.mk -k build || echo "tests: some programs did not build"
	@tests/run.sh $(TESTS)

build: $(TESTS) $(TOOLS)

$(OUT)/%.o: tests/%.c | $(OUT)
	@echo "  CC     $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(OUT)/%: $(OUT)/%.o $(COMMON) $(LIB)
	@echo "  LINK   $@"
	@$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(OUT):
	@mkdir -p $@

.SECONDARY:

-include $(wildcard $(OUT)/*.d)
