/* consumer.c — a program built against an installed libr1 (tests/install/install.sh builds it with
 * pkg-config and with find_package): load a model, tokenize, decode back, render a chat prompt.
 * Prints one line the test checks; exits non-zero on any failure. Usage: consumer MODEL.gguf */
#include <r1.h>
#include <r1_chat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    char err[R1_ERR_MAX];
    if (argc != 2) {
        fprintf(stderr, "usage: consumer MODEL.gguf\n");
        return 2;
    }
    if (r1_api_version() < R1_API_VERSION) {
        fprintf(stderr, "libr1 API %d is older than the header's %d\n", r1_api_version(),
                R1_API_VERSION);
        return 1;
    }
    r1_model_params mp = r1_model_params_default();
    mp.n_threads = 1;
    r1_model *model = NULL;
    if (r1_model_load(argv[1], &mp, &model, err) != R1_OK) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    const char *text = "Hello, world!";
    int32_t *ids = NULL;
    size_t n_ids = 0;
    char *back = NULL, *arch = NULL;
    if (r1_tokenize(model, text, strlen(text), false, false, &ids, &n_ids, err) != R1_OK ||
        r1_detokenize(model, ids, n_ids, &back, err) != R1_OK ||
        r1_model_meta(model, "general.architecture", &arch, err) != R1_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    r1_chat_message msg = {"user", text};
    char *prompt = NULL;
    size_t n_prompt = 0;
    bool in_think = false;
    if (r1_chat_apply_template(model, NULL, &msg, 1, &prompt, &n_prompt, &in_think, err) != R1_OK) {
        fprintf(stderr, "template: %s\n", err);
        return 1;
    }
    printf("r1 %s: %s, '%s' is %zu tokens, decoded back '%s', template %s%s\n", r1_version(), arch,
           text, n_ids, back, r1_chat_template_name(model, NULL), in_think ? " (thinking)" : "");
    int ok = !strcmp(back, text) && n_ids > 0;
    free(prompt);
    free(arch);
    free(back);
    free(ids);
    r1_model_free(model);
    return ok ? 0 : 1;
}
