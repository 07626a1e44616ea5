# zs-explain's command-line behaviour.
if(TARGET zs-explain)
  set(ZS_EXPLAIN $<TARGET_FILE:zs-explain>)
  zs_add_cli_test(zs_explain.help STATUS zero REGEX "usage: zs-explain" COMMAND ${ZS_EXPLAIN} --help)
  zs_add_cli_test(zs_explain.gpt2_124m STATUS zero REGEX "124439808 parameters \\| world 4"
    COMMAND ${ZS_EXPLAIN} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json --world 4 --model gpt2-124m)
  zs_add_cli_test(zs_explain.params_7b STATUS zero REGEX "ZeRO-3 +417.23 MiB +417.23 MiB"
    COMMAND ${ZS_EXPLAIN} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json --world 64 --params 7e9)
  zs_add_cli_test(zs_explain.map STATUS zero REGEX "rank 2 \\(1310 elements\\): wte\\[310:464\\] pad\\[1\\]"
    COMMAND ${ZS_EXPLAIN} --case ${PROJECT_SOURCE_DIR}/conformance/cases/fp32_zero3_adamw.json --world 3 --map)
  zs_add_cli_test(zs_explain.bad_model STATUS nonzero REGEX "unknown --model 'gpt5'"
    COMMAND ${ZS_EXPLAIN} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json --world 2 --model gpt5)
  zs_add_cli_test(zs_explain.bad_params STATUS nonzero REGEX "--params expects"
    COMMAND ${ZS_EXPLAIN} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json --world 2 --params lots)
  zs_add_cli_test(zs_explain.needs_world STATUS nonzero REGEX "--world 1..4096"
    COMMAND ${ZS_EXPLAIN} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json)
endif()
