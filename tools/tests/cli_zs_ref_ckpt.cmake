# Checkpoints through the CLIs (docs/spec/checkpoint.md): the save / resume-elsewhere / consolidate
# flow, teacher forcing with zs-ref as the implementation, and bad checkpoints refused in one line.
if(TARGET zs-ref AND TARGET zs-check)
  set(ZS_REF $<TARGET_FILE:zs-ref>)
  set(ZS_CHECK $<TARGET_FILE:zs-check>)
  set(CASES ${PROJECT_SOURCE_DIR}/conformance/cases)
  zs_add_cli_test(zs_ref.ckpt_flow STATUS zero REGEX "^ckpt_flow: ok$"
    COMMAND sh ${PROJECT_SOURCE_DIR}/tools/tests/ckpt_flow.sh ${ZS_REF} ${ZS_CHECK})
  # zs-ref restarted from the golden state before every step reproduces every step bit for bit,
  # overflow walks included (the loss scaler's state travels in the checkpoint).
  zs_add_cli_test(zs_check.teacher_forcing_exact STATUS zero REGEX "^11 passed, 0 failed, 0 skipped$"
    COMMAND ${ZS_CHECK} run --impl ${ZS_REF} --fixtures ${PROJECT_SOURCE_DIR}/fixtures --teacher-forcing
            --tolerance-class exact --cases ${CASES}/fp16_walk_seed000.json ${CASES}/fp32_zero3_adamw.json
            ${CASES}/bf16_zero0_adamw.json)
  zs_add_cli_test(zs_check.teacher_forcing_protocol STATUS zero REGEX "^teacher_forcing_protocol: ok"
    COMMAND sh ${PROJECT_SOURCE_DIR}/tools/tests/teacher_forcing_protocol.sh ${ZS_REF} ${ZS_CHECK})
  zs_add_cli_test(zs_ref.ckpt_missing_dir STATUS nonzero REGEX "error: /no/such/ckpt: not a checkpoint directory"
    COMMAND ${ZS_REF} ckpt info /no/such/ckpt)
  zs_add_cli_test(zs_ref.ckpt_not_a_checkpoint STATUS nonzero REGEX "not a zerospec checkpoint: no manifest.json"
    COMMAND ${ZS_REF} ckpt info ${PROJECT_SOURCE_DIR}/tools/tests/data)
  zs_add_cli_test(zs_ref.ckpt_usage STATUS nonzero REGEX "expected 'ckpt info DIR'"
    COMMAND ${ZS_REF} ckpt consolidate somewhere)
  zs_add_cli_test(zs_ref.resume_missing STATUS nonzero REGEX "error: .*no/such/ckpt: not a checkpoint directory"
    COMMAND ${ZS_REF} --case ${CASES}/fp32_zero2_adamw.json --resume /no/such/ckpt)
  zs_add_cli_test(zs_ref.ckpt_refused_for_onebit STATUS nonzero REGEX "--save: not supported with optimizer.type \"OneBitAdam\""
    COMMAND ${ZS_REF} --case ${CASES}/opt_onebit_adam.json --save ${CMAKE_CURRENT_BINARY_DIR}/never_written)
  zs_add_cli_test(zs_check.teacher_forcing_skips_onebit STATUS zero REGEX "^SKIP opt_zero_one_adam w2: teacher forcing does not apply"
    COMMAND ${ZS_CHECK} run --impl ${ZS_REF} --fixtures ${PROJECT_SOURCE_DIR}/fixtures --teacher-forcing
            --cases ${CASES}/opt_zero_one_adam.json --worlds 2)
endif()
