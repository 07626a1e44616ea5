# zs-ref's command-line behaviour: help, the demo case, and bad inputs (one clear line, non-zero exit).
if(TARGET zs-ref)
  set(ZS_REF $<TARGET_FILE:zs-ref>)
  set(D ${PROJECT_SOURCE_DIR}/tools/tests/data)
  zs_add_cli_test(zs_ref.help STATUS zero REGEX "usage: zs-ref" COMMAND ${ZS_REF} --help)
  zs_add_cli_test(zs_ref.demo_case STATUS zero REGEX "ZeRO stage 2 \\| world 2.*\n.*step +loss"
    COMMAND ${ZS_REF} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json --world 2 --steps 2)
  zs_add_cli_test(zs_ref.memory_table STATUS zero REGEX "ZeRO-3 +[0-9]+"
    COMMAND ${ZS_REF} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json --world 4 --steps 1 --memory)
  zs_add_cli_test(zs_ref.trace_comm STATUS zero REGEX "comm: reduce_scatter +gradients"
    COMMAND ${ZS_REF} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json --world 2 --steps 1 --trace-comm)
  zs_add_cli_test(zs_ref.malformed_json STATUS nonzero REGEX "line 3, column [0-9]+"
    COMMAND ${ZS_REF} --config ${D}/bad_json.json)
  zs_add_cli_test(zs_ref.trailing_comma STATUS nonzero REGEX "line 14, column 1: trailing comma"
    COMMAND ${ZS_REF} --config ${D}/trailing_comma.json)
  # DeepSpeed ignores offload_param below stage 3 (engine.py reads it only in stage-3 branches):
  # zs-ref runs, says so in one warning line, and refuses under --strict.
  zs_add_cli_test(zs_ref.stage2_offload_param_warns STATUS zero REGEX "warning: .*offload_param: offload_param is a ZeRO-3 feature; DeepSpeed ignores it at stage 2"
    COMMAND ${ZS_REF} --config ${D}/stage2_offload_param.json --steps 1 --world 2)
  zs_add_cli_test(zs_ref.stage2_offload_param_strict STATUS nonzero REGEX "--strict"
    COMMAND ${ZS_REF} --config ${D}/stage2_offload_param.json --steps 1 --world 2 --strict)
  zs_add_cli_test(zs_ref.missing_file STATUS nonzero REGEX "error: .*no_such_file.json"
    COMMAND ${ZS_REF} --config ${D}/no_such_file.json)
  zs_add_cli_test(zs_ref.unknown_argument STATUS nonzero REGEX "unknown argument '--bogus'"
    COMMAND ${ZS_REF} --bogus)
  zs_add_cli_test(zs_ref.bad_world STATUS nonzero REGEX "--world expects an integer"
    COMMAND ${ZS_REF} --config ${D}/stage2_offload_param.json --world 0)
  zs_add_cli_test(zs_ref.inconsistent_batch STATUS nonzero REGEX "train_batch_size"
    COMMAND ${ZS_REF} --config ${D}/stage2_offload_param.json --world 3)
  zs_add_cli_test(zs_ref.case_and_config STATUS nonzero REGEX "exactly one of --case"
    COMMAND ${ZS_REF} --case a --config b)
endif()
