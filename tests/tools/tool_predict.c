/* tool_predict CFG WEIGHTS LIST
 * Loads CFG + WEIGHTS, then for every image path in LIST (one per line) prints
 *   path: out_0 out_1 ... (each %.9g)
 * i.e. the network outputs at batch 1 in inference mode, resized to the network input size
 * when needed. Used by tests/e2e/test_e2e.sh to compare runs and reloaded weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"

int main(int argc, char **argv)
{
    network *net;
    FILE *fp;
    char line[4096];
    int count = 0;
    if (argc != 4) {
        fprintf(stderr, "usage: %s CFG WEIGHTS LIST\n", argv[0]);
        return 2;
    }
    net = load_network(argv[1], argv[2], 0);
    set_batch_network(net, 1);
    fp = fopen(argv[3], "r");
    if (!fp) {
        perror(argv[3]);
        return 1;
    }
    while (fgets(line, sizeof(line), fp)) {
        image im, sized;
        float *out;
        int i;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        im = load_image_color(line, 0, 0);
        sized = (im.w == net->w && im.h == net->h) ? im : resize_image(im, net->w, net->h);
        out = network_predict(net, sized.data);
        printf("%s:", line);
        for (i = 0; i < net->outputs; ++i) printf(" %.9g", out[i]);
        printf("\n");
        if (sized.data != im.data) free_image(sized);
        free_image(im);
        ++count;
    }
    fclose(fp);
    free_network(net);
    return count > 0 ? 0 : 1;
}
