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

# zs-ref config check: key report, "auto" resolution with --set, errors.
if(TARGET zs-ref)
  set(S ${PROJECT_SOURCE_DIR}/conformance/tests/data)
  set(AUTO ${PROJECT_SOURCE_DIR}/tools/tests/data/seed002_auto_no_trailing_comma.json)
  set(HF_ARGS --set learning_rate=3e-4 --set per_device_train_batch_size=4 --set world_size=2 --set warmup_steps=10)
  zs_add_cli_test(zs_ref.config_check_report STATUS zero
    REGEX "zero_optimization.allgather_bucket_size +accepted"
    COMMAND ${ZS_REF} config check ${AUTO} ${HF_ARGS})
  zs_add_cli_test(zs_ref.config_check_ignored STATUS zero REGEX "offload_param +ignored"
    COMMAND ${ZS_REF} config check ${PROJECT_SOURCE_DIR}/tools/tests/data/stage2_offload_param.json)
  zs_add_cli_test(zs_ref.config_check_auto_unresolved STATUS nonzero REGEX "\"auto\""
    COMMAND ${ZS_REF} config check ${AUTO})
  zs_add_cli_test(zs_ref.config_check_auto_resolved STATUS zero REGEX "resolved config: .*\"lr\":0.0003"
    COMMAND ${ZS_REF} config check ${AUTO} ${HF_ARGS})
  zs_add_cli_test(zs_ref.run_with_set STATUS zero REGEX "micro-batch 4 x grad-accum 1 x world 2 = batch 8"
    COMMAND ${ZS_REF} --config ${AUTO} ${HF_ARGS} --world 2 --steps 1)
  zs_add_cli_test(zs_ref.config_check_seed000 STATUS nonzero
    REGEX "scheduler.params.total_num_steps is required by WarmupDecayLR"
    COMMAND ${ZS_REF} config check ${S}/seed000_config.json)
  zs_add_cli_test(zs_ref.config_check_usage STATUS nonzero REGEX "config check needs a FILE"
    COMMAND ${ZS_REF} config check)
  zs_add_cli_test(zs_ref.config_check_help STATUS zero REGEX "usage: zs-ref config check"
    COMMAND ${ZS_REF} config check --help)
  zs_add_cli_test(zs_ref.set_needs_config STATUS nonzero REGEX "--set applies to --config"
    COMMAND ${ZS_REF} --case ${PROJECT_SOURCE_DIR}/tools/demo/zero2.json --set learning_rate=1)
endif()
