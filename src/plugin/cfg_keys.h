/* Reading a plugin layer's cfg keys with range checks.
 *
 * Each reader marks the key as used (so the parser's unknown-key check passes) and stops the
 * program with a message that names the cfg file, the layer index, the layer type and the key
 * when the value is malformed or out of range:
 *
 *   darknet: error: cfg/x.cfg: layer 7 [cosine]: key 'scale' = '-3': must be in (0, 1000]
 */
#ifndef CFG_KEYS_H
#define CFG_KEYS_H

#include "layer_registry.h"

/* Integer in [lo, hi]; def when the key is absent. */
int cfg_int(list *options, const plugin_params *p, const char *key, int def, int lo, int hi);
/* Integer in [lo, hi]; the key must be present. */
int cfg_int_required(list *options, const plugin_params *p, const char *key, int lo, int hi);
/* Number in [lo, hi] (lo_open/hi_open exclude the bound); def when absent. */
float cfg_float(list *options, const plugin_params *p, const char *key, float def,
                float lo, int lo_open, float hi, int hi_open);
/* String; def when absent (may be 0). */
const char *cfg_str(list *options, const plugin_params *p, const char *key, const char *def);
/* One of the strings in choices (0-terminated); returns its index; def_index when absent. */
int cfg_choice(list *options, const plugin_params *p, const char *key, int def_index,
               const char *const *choices);
/* Comma-separated list of layer indices (negative = relative to this layer), each naming an
 * earlier layer; returns the count and writes up to max indices. */
int cfg_layer_list(list *options, const plugin_params *p, const char *key, int *out, int max);

/* What a layer reference points at. A key that names earlier layers is checked for range by
 * cfg_layer_list and for kind by the layer's parser: a reference to a layer of the wrong
 * kind (logits where features are due, the same layer twice) has outputs of a plausible size
 * and would train silently on the wrong values. */

/* Section name of layer i of net without brackets: "connected", "cosine". */
const char *cfg_layer_type_name(const network *net, int i);
/* Stops when a layer appears more than once in idx [n], the layers named by key. */
void cfg_layers_distinct(const plugin_params *p, const char *key, const int *idx, int n);

/* Why layer i cannot be used as logits (class scores before any softmax), or 0 if it can. */
const char *cfg_not_logits(const network *net, int i);
/* Why layer i cannot be used as features (an embedding, before any classifier), or 0. */
const char *cfg_not_features(const network *net, int i);

/* Stop with a message about a key (printf-style reason). */
void cfg_fail(const plugin_params *p, const char *key, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#endif
