# zs-check plugin: the example plugins (independent CPU AdamW; CPU LayerNorm + GELU) and the reference as
# a plugin pass the op-level cases; a plugin built before the layer entries still loads (layers and
# the 1-bit / Muon entries skipped); bad libraries and missing cases give one clear line and a non-zero exit.
if(TARGET zs-check AND TARGET zs_example_adamw AND TARGET zs_reference_plugin)
  set(ZS_CHECK_BIN $<TARGET_FILE:zs-check>)
  set(OPS ${PROJECT_SOURCE_DIR}/fixtures/ops)
  zs_add_cli_test(zs_check.plugin_example STATUS zero REGEX "^8 passed, 0 failed, 74 skipped"
    COMMAND ${ZS_CHECK_BIN} plugin $<TARGET_FILE:zs_example_adamw> --ops ${OPS})
  zs_add_cli_test(zs_check.plugin_example_layernorm STATUS zero REGEX "^8 passed, 0 failed, 74 skipped"
    COMMAND ${ZS_CHECK_BIN} plugin $<TARGET_FILE:zs_example_layernorm> --ops ${OPS})
  zs_add_cli_test(zs_check.plugin_reference STATUS zero REGEX "^82 passed, 0 failed, 0 skipped"
    COMMAND ${ZS_CHECK_BIN} plugin $<TARGET_FILE:zs_reference_plugin> --ops ${OPS})
  zs_add_cli_test(zs_check.plugin_legacy_v1_skips_layers STATUS zero
    REGEX "SKIP layer_attention b2_t4 forward +\\(no layer_forward entry: the plugin predates"
    COMMAND ${ZS_CHECK_BIN} plugin $<TARGET_FILE:zs_legacy_v1_plugin> --ops ${OPS})
  zs_add_cli_test(zs_check.plugin_legacy_v1_skips_step_ops STATUS zero
    REGEX "SKIP muon_newton_schulz ns gram_r12_c20 +\\(no newton_schulz entry: the plugin predates it\\)"
    COMMAND ${ZS_CHECK_BIN} plugin $<TARGET_FILE:zs_legacy_v1_plugin> --ops ${OPS})
  zs_add_cli_test(zs_check.plugin_missing_library STATUS nonzero REGEX "cannot load .*no_such_plugin.so"
    COMMAND ${ZS_CHECK_BIN} plugin ${PROJECT_BINARY_DIR}/no_such_plugin.so --ops ${OPS})
  zs_add_cli_test(zs_check.plugin_without_entry STATUS nonzero REGEX "exports no zerospec_plugin_v1"
    COMMAND ${ZS_CHECK_BIN} plugin $<TARGET_FILE:zs_common_shared_probe> --ops ${OPS})
  zs_add_cli_test(zs_check.plugin_missing_cases STATUS nonzero REGEX "cannot open the op-level cases"
    COMMAND ${ZS_CHECK_BIN} plugin $<TARGET_FILE:zs_example_adamw> --ops ${PROJECT_BINARY_DIR}/no_ops_here)
  zs_add_cli_test(zs_check.plugin_usage STATUS nonzero REGEX "plugin needs a shared library"
    COMMAND ${ZS_CHECK_BIN} plugin)
endif()

# The reference, run as an implementation through the documented CLI contract, passes every case at
# every world size against the committed fixtures.
if(TARGET zs-check AND TARGET zs-ref)
  zs_add_cli_test(zs_check.reference_passes_the_suite STATUS zero REGEX "^[0-9]+ passed, 0 failed, 0 skipped"
    COMMAND $<TARGET_FILE:zs-check> run --impl $<TARGET_FILE:zs-ref>
            --cases ${PROJECT_SOURCE_DIR}/conformance/cases --fixtures ${PROJECT_SOURCE_DIR}/fixtures
            --junit ${PROJECT_BINARY_DIR}/conformance-junit.xml)
  set_tests_properties(zs_check.reference_passes_the_suite PROPERTIES LABELS "conformance;cli")
endif()
