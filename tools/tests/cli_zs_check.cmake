# zs-check's command-line behaviour: help, diff verdicts and the final count line, run against the
# reference itself, and bad inputs (one clear line, exit status 2, never a crash).
if(TARGET zs-check)
  set(ZS_CHECK $<TARGET_FILE:zs-check>)
  set(D ${PROJECT_SOURCE_DIR}/tools/tests/data)
  set(F ${PROJECT_SOURCE_DIR}/fixtures/fp32_zero2_adamw)
  zs_add_cli_test(zs_check.help STATUS zero REGEX "usage: zs-check diff" COMMAND ${ZS_CHECK} --help)
  zs_add_cli_test(zs_check.no_arguments STATUS nonzero REGEX "usage: zs-check" COMMAND ${ZS_CHECK})
  zs_add_cli_test(zs_check.unknown_command STATUS nonzero REGEX "unknown command 'frob'"
    COMMAND ${ZS_CHECK} frob)
  zs_add_cli_test(zs_check.diff_needs_pairs STATUS nonzero REGEX "diff needs pairs of files"
    COMMAND ${ZS_CHECK} diff ${F}/w1.safetensors)
  zs_add_cli_test(zs_check.unknown_argument STATUS nonzero REGEX "unknown argument '--bogus'"
    COMMAND ${ZS_CHECK} diff ${F}/w1.safetensors ${F}/w1.safetensors --bogus)
  zs_add_cli_test(zs_check.run_option_in_diff STATUS nonzero REGEX "--impl is an option of zs-check run"
    COMMAND ${ZS_CHECK} diff ${F}/w1.safetensors ${F}/w1.safetensors --impl x)
  zs_add_cli_test(zs_check.fail_fast_in_diff STATUS nonzero REGEX "--fail-fast is an option of zs-check run"
    COMMAND ${ZS_CHECK} diff ${F}/w1.safetensors ${F}/w1.safetensors --fail-fast)
  zs_add_cli_test(zs_check.bad_tolerance_class STATUS nonzero REGEX "--tolerance-class expects fp32, fp16, bf16 or exact"
    COMMAND ${ZS_CHECK} diff ${F}/w1.safetensors ${F}/w1.safetensors --tolerance-class fp8)
  zs_add_cli_test(zs_check.missing_file STATUS nonzero REGEX "^zs-check: error: .*no_such.safetensors"
    COMMAND ${ZS_CHECK} diff ${D}/no_such.safetensors ${F}/w1.safetensors)
  zs_add_cli_test(zs_check.truncated_file STATUS nonzero REGEX "^zs-check: error: .*truncated.safetensors: truncated"
    COMMAND ${ZS_CHECK} diff ${D}/truncated.safetensors ${F}/w1.safetensors)
  zs_add_cli_test(zs_check.diff_identical STATUS zero REGEX "^1 passed, 0 failed, 0 skipped$"
    COMMAND ${ZS_CHECK} diff ${F}/w2.safetensors ${F}/w2.safetensors --tolerance-class exact)
  zs_add_cli_test(zs_check.diff_other_world STATUS nonzero REGEX "^FAIL .*: metadata 'world_size': got \"2\", expected \"1\"$"
    COMMAND ${ZS_CHECK} diff ${F}/w2.safetensors ${F}/w1.safetensors)
  zs_add_cli_test(zs_check.diff_two_pairs STATUS nonzero REGEX "^1 passed, 1 failed, 0 skipped$"
    COMMAND ${ZS_CHECK} diff ${F}/w1.safetensors ${F}/w1.safetensors ${F}/w2.safetensors ${F}/w1.safetensors)
  zs_add_cli_test(zs_check.run_needs_impl STATUS nonzero REGEX "run needs --impl CMD"
    COMMAND ${ZS_CHECK} run --cases ${PROJECT_SOURCE_DIR}/conformance/cases --fixtures ${PROJECT_SOURCE_DIR}/fixtures)
  zs_add_cli_test(zs_check.run_bad_worlds STATUS nonzero REGEX "--worlds expects a comma-separated list"
    COMMAND ${ZS_CHECK} run --impl x --cases y --fixtures z --worlds 1,0)
  # The reference is an implementation of the CLI contract: it must reproduce its own fixtures bit for bit.
  if(TARGET zs-ref)
    zs_add_cli_test(zs_check.run_reference_exact STATUS zero REGEX "^2 passed, 0 failed, 0 skipped$"
      COMMAND ${ZS_CHECK} run --impl $<TARGET_FILE:zs-ref> --cases ${PROJECT_SOURCE_DIR}/conformance/cases/fp32_zero2_adamw.json
              --fixtures ${PROJECT_SOURCE_DIR}/fixtures --worlds 1,3 --tolerance-class exact)
  endif()
endif()
