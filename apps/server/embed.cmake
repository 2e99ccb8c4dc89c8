# embed.cmake — turn a file into a C array at build time (no xxd needed):
#   cmake -DIN=apps/web/index.html -DOUT=web_index.c -DNAME=web_index_html -P embed.cmake
# The array gets a trailing NUL that the length does not count.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n_hex)
math(EXPR n_bytes "${n_hex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp" "/* generated from ${IN} by apps/server/embed.cmake: do not edit */\n#include <stddef.h>\nconst unsigned char ${NAME}[] = {\n${body}0x00};\nconst size_t ${NAME}_len = ${n_bytes};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
