/* Fuzz harness: the weights reader (Darknet's load_weights with the plugin layers' own
 * parameters: [cosine] weights, [cbcl] centers), each input a weights file for one fixed
 * network built once from NET_CFG. With FUZZ_WEIGHTS_SEED=PATH in the environment the
 * harness first writes that network's weights to PATH (scripts/fuzz makes the seeds from
 * it). See fuzz_common.h. */
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "fuzz_common.h"

/* Every kind of layer with parameters that the project's cfgs use: convolutional with and
   without batch norm, a shortcut, connected, [cosine] experts, [cbcl] centers. */
static const char NET_CFG[] =
    "[net]\nbatch=12\nwidth=4\nheight=4\nchannels=1\n\n"
    "[mixdata]\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=2\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[convolutional]\nfilters=2\nsize=1\nstride=1\npad=0\nactivation=linear\n\n"
    "[shortcut]\nfrom=-2\nactivation=relu\n\n"
    "[connected]\noutput=5\nactivation=linear\n\n"
    "[cosine]\nclasses=3\nscale=16\n\n"
    "[route]\nlayers=3\n\n"
    "[connected]\noutput=5\nactivation=linear\n\n"
    "[cosine]\nclasses=3\nscale=16\n\n"
    "[cbcl]\nfeatures=4,7\nlogits=5,8\n\n"
    "[expert_softmax]\nexperts=5,8\ntau=1\naala=0\n";

static network *net;

static void load(void *path)
{
    load_weights(net, (char *)path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!net) {
        const char *seed = getenv("FUZZ_WEIGHTS_SEED");
        fuzz_init();
        net = parse_network_cfg((char *)fuzz_write_file(3, (const uint8_t *)NET_CFG, strlen(NET_CFG)));
        if (seed) save_weights(net, (char *)seed);
    }
    fuzz_run(load, (void *)fuzz_write_file(0, data, size));
    return 0;
}
