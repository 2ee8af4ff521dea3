/* The registry (src/plugin/layer_registry.c), walked row by row:
 *   - every layer type has a name, a parse function, a unique name that plugin_find finds,
 *     and a loss name when it is loss-only;
 *   - plugin_layer_is answers for its own id only, and never for stock layers;
 *   - every command has a name, a usage text and a run function, names unique;
 *   - every registered layer type has a gradient-check case: tests/layers/test_NAME.c exists
 *     and calls gradcheck( outside a comment. A type added to the registry without such a
 *     test fails here. The convention is by name so that nothing needs updating by hand
 *     besides the test itself; the finder is shown to fail for a name with no test file.
 * Run from the repository root (tests/run.sh does), or with this file's path absolute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "layer_registry.h"

#include "harness.h"

/* The repository root, from this file's path as the compiler saw it ("" when relative). */
/* 1 when the line, after leading blanks, starts a comment or continues a block comment. */
static int comment_line(const char *s)
{
    while (*s == ' ' || *s == '\t') ++s;
    return s[0] == '*' || (s[0] == '/' && (s[1] == '*' || s[1] == '/'));
}

/* How many lines of tests/layers/test_NAME.c call gradcheck( outside a comment; -1 when
 * the file does not exist. */
static int gradcheck_calls(const char *name)
{
    char rel[256], line[4096];
    FILE *fp;
    int n = 0;
    snprintf(rel, sizeof(rel), "tests/layers/test_%s.c", name);
    fp = fopen(repo_path(rel), "r");
    if (!fp) return -1;
    while (fgets(line, sizeof(line), fp))
        if (!comment_line(line) && strstr(line, "gradcheck(")) ++n;
    fclose(fp);
    return n;
}

static void test_types(void)
{
    const int n = plugin_type_count();
    int i, j;
    CHECK(n >= 1 && n == PLUGIN_TYPE_COUNT, "registry: %d layer types, as many as plugin_type_id has ids", n);
    CHECK(plugin_type_at(-1) == 0 && plugin_type_at(n) == 0, "registry: plugin_type_at is null out of range");
    for (i = 0; i < n; ++i) {
        const plugin_type *t = plugin_type_at(i);
        int dup = 0;
        if (!CHECK(t && t->name && t->name[0] && t->parse, "registry: row %d has a name and a parse function", i))
            continue;
        for (j = 0; j < i; ++j) dup += plugin_type_at(j)->name && strcmp(plugin_type_at(j)->name, t->name) == 0;
        CHECK(!dup && plugin_find(t->name) == t, "registry: [%s] is named once and plugin_find finds its row", t->name);
        if (t->loss_only)
            CHECK(t->loss_name != 0, "registry: loss-only [%s] has a loss name to print", t->name);
    }
}

static void test_layer_is(void)
{
    const int n = plugin_type_count();
    layer stock = {0};
    int i, j, wrong = 0, stock_is = 0;
    for (i = 0; i < n; ++i) {
        layer l = {0};
        l.type = PLUGIN;
        l.plugin = plugin_type_at(i);
        for (j = 0; j < n; ++j) wrong += plugin_layer_is(&l, (plugin_type_id)j) != (i == j);
        wrong += plugin_layer_is(&l, PLUGIN_TYPE_COUNT) + plugin_layer_is(&l, (plugin_type_id)-1);
    }
    CHECK(wrong == 0, "plugin_layer_is: each plugin layer is its own type only, and no out-of-range id (%d wrong answers)", wrong);
    stock.type = CONNECTED;
    for (j = 0; j < n; ++j) stock_is += plugin_layer_is(&stock, (plugin_type_id)j);
    CHECK(stock_is == 0, "plugin_layer_is: a stock [connected] layer is no plugin type");
}

static void test_commands(void)
{
    const int n = plugin_command_count();
    int i, j;
    CHECK(n >= 1, "registry: %d classifier commands", n);
    CHECK(plugin_command_at(-1) == 0 && plugin_command_at(n) == 0, "registry: plugin_command_at is null out of range");
    for (i = 0; i < n; ++i) {
        const plugin_command *c = plugin_command_at(i);
        int dup = 0;
        if (!CHECK(c && c->name && c->name[0] && c->usage && c->run, "registry: command %d has a name, a usage and a run function", i))
            continue;
        for (j = 0; j < i; ++j) dup += strcmp(plugin_command_at(j)->name, c->name) == 0;
        CHECK(!dup, "registry: command '%s' is named once", c->name);
    }
}

static void test_gradcheck_cases(void)
{
    const int n = plugin_type_count();
    int i;
    /* The finder itself: a name without a test file is reported as missing. */
    CHECK(gradcheck_calls("no_such_type") == -1, "gradient cases: a type without tests/layers/test_NAME.c is found missing");
    for (i = 0; i < n; ++i) {
        const plugin_type *t = plugin_type_at(i);
        int calls;
        if (!t || !t->name) continue;
        calls = gradcheck_calls(t->name);
        CHECK(calls > 0, "gradient cases: [%s] has tests/layers/test_%s.c calling gradcheck (%s)", t->name,
              t->name, calls < 0 ? "no such file" : calls == 0 ? "no gradcheck call" : "found");
    }
}

int main(void)
{
    test_types();
    test_layer_is();
    test_commands();
    test_gradcheck_cases();
    return harness_finish();
}
