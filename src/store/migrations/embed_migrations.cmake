# txv_embed_migrations(<target> <backend> <function>)
#
# Compiles src/store/migrations/<backend>/NNNN_name.sql into <target> as
#   std::span<const txv::store::Migration> txv::store::<function>();
# ordered by NNNN. The generated .cc is rebuilt whenever a .sql file changes;
# adding a file re-runs CMake (glob with CONFIGURE_DEPENDS).
set(TXV_EMBED_MIGRATIONS_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_migrations_script.cmake)
set(TXV_MIGRATIONS_DIR ${CMAKE_CURRENT_LIST_DIR})

function(txv_embed_migrations target backend function)
  set(dir ${TXV_MIGRATIONS_DIR}/${backend})
  file(GLOB sql_files CONFIGURE_DEPENDS ${dir}/*.sql)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${function}.generated.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DDIR=${dir} -DOUT=${out} -DFUNCTION=${function} -P ${TXV_EMBED_MIGRATIONS_SCRIPT}
    DEPENDS ${sql_files} ${TXV_EMBED_MIGRATIONS_SCRIPT}
    COMMENT "Embedding ${backend} migrations"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
