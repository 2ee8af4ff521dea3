# One option set of the Darknet build; called by the top Makefile as
#   make -f mk/build.mk VARIANT=name GPU= CUDNN= OPENCV= OPENMP= OPENBLAS= DNNL= DEBUG= [OPTS=]
# Objects, libdarknet.a and the darknet binary go to build/$(VARIANT)/.

DN      := build/darknet
OUT     := build/$(VARIANT)
GPU     ?= 0
CUDNN   ?= 0
OPENCV  ?= 1
OPENMP  ?= 1
OPENBLAS?= 1
# The top Makefile passes every option; these defaults are those of its test-build and
# gpu-build lines, which leave DNNL out (DNNL=1 is the default of `make` itself).
DNNL    ?= 0
DEBUG   ?= 0
# -Ofast implies -ffinite-math-only, under which GCC deletes isnan/isinf/isfinite and x != x:
# learning_rate=nan, NaN logits and non-finite losses passed every check in the shipped
# build. -fno-finite-math-only keeps those checks and the rest of -Ofast.
OPTS    ?= -Ofast -fno-finite-math-only
ifeq ($(DEBUG),1)
OPTS    := -O0 -g
endif
CUDA    ?= /usr/local/cuda
# CUDA 13 accepts compute_75 and newer: Turing to Hopper as machine code, plus PTX for later chips.
ARCH    ?= -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
           -gencode arch=compute_86,code=sm_86 -gencode arch=compute_89,code=sm_89 \
           -gencode arch=compute_90,code=[sm_90,compute_90]

CC      := gcc
CXX     := g++ -std=c++11
NVCC    := $(CUDA)/bin/nvcc
# The project's folders (src/README.md): each is on the include path, so Darknet's patches and
# our sources name a header by its file name alone.
SRCDIRS := plugin layers data ood accel export
CPPFLAGS:= -I$(DN)/include -I$(DN)/src $(addprefix -Isrc/,$(SRCDIRS)) -I$(OUT)/gen -MMD -MP
CFLAGS  := -Wall -Wno-unused-result -Wno-unknown-pragmas -Wfatal-errors -fPIC $(OPTS)
LDLIBS  := -lm -pthread
# Our own sources must be warning-clean; Darknet's are compiled as upstream has them.
LAYER_WARN := -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration -Werror

ifeq ($(OPENMP),1)
CFLAGS  += -fopenmp
endif
# ONNX export (src/export): C code that protoc-c generates here, in $(OUT)/gen, from the
# onnx.proto schema of Debian's libonnx-dev; encoded by libprotobuf-c. Nothing generated is
# kept in the repository.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
PROTOC_C   := $(shell command -v protoc-c 2>/dev/null)
ONNX_MISSING := $(if $(PROTOC_C),,protobuf-c-compiler) \
                $(if $(wildcard /usr/include/protobuf-c/protobuf-c.h),,libprotobuf-c-dev) \
                $(if $(wildcard $(ONNX_PROTO)),,libonnx-dev)
ifneq ($(strip $(ONNX_MISSING)),)
$(error the ONNX export needs the Debian packages $(strip $(ONNX_MISSING)) (scripts/install-deps installs them))
endif
LDLIBS  += -lprotobuf-c
ifeq ($(OPENBLAS),1)
CPPFLAGS+= -DCBLAS $(shell pkg-config --cflags openblas 2>/dev/null)
LDLIBS  += $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)
endif
ifeq ($(DNNL),1)
CPPFLAGS+= -DDNNL
LDLIBS  += -ldnnl
endif
ifeq ($(OPENCV),1)
CPPFLAGS+= -DOPENCV $(shell pkg-config --cflags opencv4)
LDLIBS  += -lopencv_highgui -lopencv_videoio -lopencv_imgcodecs -lopencv_imgproc -lopencv_core -lstdc++
endif
ifeq ($(GPU),1)
CPPFLAGS+= -DGPU -I$(CUDA)/include
LDLIBS  += -L$(CUDA)/lib64 -Wl,-rpath,$(CUDA)/lib64 -lcudart -lcublas -lcurand -lstdc++
endif
ifeq ($(CUDNN),1)
CPPFLAGS+= -DCUDNN
LDLIBS  += -lcudnn
endif

# Darknet's own objects, as listed in its Makefile (library part, then the example commands).
DN_LIB  := gemm utils cuda deconvolutional_layer convolutional_layer list image activations \
           im2col col2im blas crop_layer dropout_layer maxpool_layer softmax_layer data matrix \
           network connected_layer cost_layer parser option_list detection_layer route_layer \
           upsample_layer box normalization_layer avgpool_layer layer local_layer shortcut_layer \
           logistic_layer activation_layer rnn_layer gru_layer crnn_layer demo batchnorm_layer \
           region_layer reorg_layer tree lstm_layer l2norm_layer yolo_layer iseg_layer image_opencv
DN_EXE  := captcha lsd super art tag cifar go rnn segmenter regressor classifier coco yolo \
           detector nightmare instance-segmenter darknet
DN_CU   := convolutional_kernels deconvolutional_kernels activation_kernels im2col_kernels \
           col2im_kernels blas_kernels crop_layer_kernels dropout_layer_kernels \
           maxpool_layer_kernels avgpool_layer_kernels

OUR_C   := $(foreach d,$(SRCDIRS),$(wildcard src/$(d)/*.c))
OUR_CU  := $(foreach d,$(SRCDIRS),$(wildcard src/$(d)/*.cu))
# C++ sources of ours use OpenCV directly; they are built only with OPENCV=1.
OUR_CPP := $(if $(filter 1,$(OPENCV)),$(foreach d,$(SRCDIRS),$(wildcard src/$(d)/*.cpp)))

OBJS    := $(addprefix $(OUT)/dn/,$(addsuffix .o,$(DN_LIB))) $(OUT)/gen/onnx.pb-c.o \
           $(patsubst src/%.c,$(OUT)/src/%.o,$(OUR_C)) \
           $(patsubst src/%.cpp,$(OUT)/src/%.cpp.o,$(OUR_CPP))
ifeq ($(GPU),1)
OBJS    += $(addprefix $(OUT)/dn/,$(addsuffix .o,$(DN_CU))) \
           $(patsubst src/%.cu,$(OUT)/src/%.cu.o,$(OUR_CU))
endif
EXEOBJS := $(addprefix $(OUT)/dn/,$(addsuffix .o,$(DN_EXE)))

all: $(OUT)/darknet $(OUT)/libdarknet.a

$(OUT)/darknet: $(EXEOBJS) $(OUT)/libdarknet.a
	@echo "  LINK   $@"
	@$(CC) $(CFLAGS) $(EXEOBJS) $(OUT)/libdarknet.a -o $@ $(LDLIBS)

$(OUT)/libdarknet.a: $(OBJS)
	@rm -f $@
	@echo "  AR     $@"
	@ar rcs $@ $^

# Every object also depends on the prepared tree's stamp: new patches rebuild everything.
$(OUT)/dn/%.o: $(DN)/src/%.c build/darknet.stamp | $(OUT)/dn
	@echo "  CC     $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(OUT)/dn/%.o: $(DN)/src/%.cpp build/darknet.stamp | $(OUT)/dn
	@echo "  CXX    $<"
	@$(CXX) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(OUT)/dn/%.o: $(DN)/examples/%.c build/darknet.stamp | $(OUT)/dn
	@echo "  CC     $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(OUT)/dn/%.o: $(DN)/src/%.cu build/darknet.stamp | $(OUT)/dn
	@echo "  NVCC   $<"
	@$(NVCC) $(ARCH) $(filter-out -MMD -MP,$(CPPFLAGS)) --compiler-options "$(CFLAGS)" -c $< -o $@
$(OUT)/src/%.o: src/%.c build/darknet.stamp
	@mkdir -p $(@D)
	@echo "  CC     $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(LAYER_WARN) -c $< -o $@
$(OUT)/src/%.cpp.o: src/%.cpp build/darknet.stamp
	@mkdir -p $(@D)
	@echo "  CXX    $<"
	@$(CXX) $(CPPFLAGS) $(CFLAGS) $(filter-out -Werror=implicit-function-declaration,$(LAYER_WARN)) -c $< -o $@
$(OUT)/src/%.cu.o: src/%.cu build/darknet.stamp
	@mkdir -p $(@D)
	@echo "  NVCC   $<"
	@$(NVCC) $(ARCH) $(filter-out -MMD -MP,$(CPPFLAGS)) --compiler-options "$(CFLAGS)" -c $< -o $@

$(OUT)/gen/onnx.pb-c.c $(OUT)/gen/onnx.pb-c.h &: $(ONNX_PROTO)
	@mkdir -p $(@D)
	@echo "  PROTOC $<"
	@$(PROTOC_C) --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(@D) $(notdir $(ONNX_PROTO))
$(OUT)/gen/onnx.pb-c.o: $(OUT)/gen/onnx.pb-c.c
	@echo "  CC     $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
# Before its first build, nothing records that the export includes the generated header.
$(OUT)/src/export/onnx_graph.o: $(OUT)/gen/onnx.pb-c.h

$(OUT)/dn:
	@mkdir -p $@

-include $(wildcard $(OUT)/dn/*.d $(OUT)/src/*/*.d $(OUT)/gen/*.d)
