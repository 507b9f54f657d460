"""``--compile``: the compiled torch backend matches eager, and its inductor options stay scoped to it."""

from lib.models.inference import prepare_for_inference
from lib.models.profiling import make_inputs
from lib.tracker.backends import COMPILE_OPTIONS, TorchBackend


def test_compiled_backend_matches_eager_and_leaves_global_config(tiny_st):
    import torch._inductor.config as inductor_config

    cfg, model = tiny_st
    assert COMPILE_OPTIONS["freezing"] and not inductor_config.freezing
    eager = TorchBackend(model)
    compiled = TorchBackend(prepare_for_inference(model), compile=True)
    inputs = make_inputs(1, cfg.test.template_size, cfg.test.search_size, cfg.data.template.number)
    outputs = []
    for backend in (eager, compiled):
        templates = [backend.encode_template(t, inputs["template_mask"]) for t in inputs["templates"]]
        outputs.append(backend.predict(templates, inputs["search"], inputs["search_mask"]))
    for key in ("pred_boxes", "pred_logits"):
        assert (outputs[0][key] - outputs[1][key]).abs().max() < 1e-5, key
    # freezing was passed per compiled function: training and any other compiled code keep the default
    assert not inductor_config.freezing
