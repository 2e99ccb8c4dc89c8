# embed.cmake — turn the chat page's files into C arrays and a table at build time (no xxd needed):
#   cmake -DROOT=apps/web -DFILES="index.html,app.js,vendor/..." -DOUT=web_files.c -P embed.cmake
# FILES are paths under ROOT, separated by commas. Each becomes an entry of web_files[] (see web_file
# in apps/server/web.h): its URL path ("/" + the file's path), Content-Type (from the
# name), an ETag (the start of its SHA-256) and whether it may be cached for good (the versioned
# folders under vendor/ never change content under the same name). Each array gets a trailing
# NUL that the size does not count.
string(REPLACE "," ";" files "${FILES}")
set(arrays "")
set(table "")
set(i 0)
foreach(f IN LISTS files)
  set(path "${ROOT}/${f}")
  file(READ "${path}" hex HEX)
  string(LENGTH "${hex}" n_hex)
  math(EXPR n_bytes "${n_hex} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
  file(SHA256 "${path}" sum)
  string(SUBSTRING "${sum}" 0 20 etag)
  if(f MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(f MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(f MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(f MATCHES "\\.woff2$")
    set(type "font/woff2")
  elseif(f MATCHES "LICENSE[^/]*$")
    set(type "text/plain; charset=utf-8")
  else()
    message(FATAL_ERROR "embed.cmake: no Content-Type known for ${f}")
  endif()
  if(f MATCHES "^vendor/")
    set(immutable 1)
  else()
    set(immutable 0)
  endif()
  string(APPEND arrays "/* ${f} */\nstatic const unsigned char f${i}[] = {\n${body}0x00};\n")
  string(APPEND table "    {\"/${f}\", \"${type}\", \"\\\"${etag}\\\"\", f${i}, ${n_bytes}, ${immutable}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUT}.tmp" "/* generated from ${ROOT} by apps/server/embed.cmake: do not edit */
#include \"apps/server/web.h\"

${arrays}
const web_file web_files[] = {
${table}};
const size_t web_n_files = ${i};
")
file(RENAME "${OUT}.tmp" "${OUT}")
