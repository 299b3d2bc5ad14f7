# Turns schema/NNN_name.sql into a C source (run with cmake -P at build time):
#   cmake -DSCHEMA_DIR=... -DOUTPUT=... -P embed_schema.cmake
# The SQL becomes byte arrays, not string literals: C17 only promises
# string literals of 4095 characters and -Wpedantic warns past that.
# Versions come from the file names and must run 1, 2, 3 ... without a gap,
# so a missing or misnamed migration fails the build, not a user's database.
if(NOT SCHEMA_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "embed_schema.cmake: SCHEMA_DIR and OUTPUT are required")
endif()
file(GLOB files RELATIVE "${SCHEMA_DIR}" "${SCHEMA_DIR}/*.sql")
list(SORT files)
set(arrays "")
set(table "")
set(expected 1)
foreach(f IN LISTS files)
  if(NOT f MATCHES "^([0-9][0-9][0-9])_([A-Za-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "schema/${f}: migrations are named NNN_name.sql")
  endif()
  set(name "${CMAKE_MATCH_2}")
  math(EXPR version "${CMAKE_MATCH_1}")
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "schema/${f}: expected migration number ${expected}")
  endif()
  file(READ "${SCHEMA_DIR}/${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REPEAT "0x..," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n  " hex "${hex}")
  string(APPEND arrays "static const unsigned char sql_${version}[] = {\n  ${hex}0x00};\n")
  string(APPEND table "  {${version}, \"${name}\", (const char *)sql_${version}},\n")
  math(EXPR expected "${expected} + 1")
endforeach()
if(expected EQUAL 1)
  message(FATAL_ERROR "no migrations in ${SCHEMA_DIR}")
endif()
math(EXPR count "${expected} - 1")
set(content "/* Generated from schema/NNN_name.sql by coordinator/store/embed_schema.cmake.
 * Do not edit: change the SQL files and rebuild. */
#include \"migrations.h\"

${arrays}
const hyd_store_migration hyd_store_migrations[] = {
${table}};
const int hyd_store_migration_count = ${count};
")
# Write only on change, so an unchanged schema does not rebuild the store.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
