"""Write ``rbv2_svm/``: a stand-in for YAHPO Gym's ``rbv2_svm`` scenario (v1.0.2 layout) with a
small analytic surrogate, so that the tests exercise a scenario other than lcbench: conditional
parameters (``gamma`` with the radial kernel, ``degree`` with the polynomial one), three
categorical inputs, two fidelities (``trainsize``, ``repl``) and nine targets.

The surrogate behaves like one fitted on YAHPO's masked inputs: where a configuration passes a
value for a parameter its kernel leaves inactive, its accuracy drops by 0.2 (a fitted model's
answer off its training data is arbitrary), so a test can tell that metahpo masks them.

The model is stamped with ONNX opset 13, as YAHPO Gym's surrogates are, so that every
onnxruntime metahpo supports loads it. Run from this folder (needs ``pip install onnx``; the
files it writes are committed)::

    python make_rbv2_svm.py
"""

import json
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent / "rbv2_svm"
TASKS = ["3", "11", "37", "1049"]
LOW = 4.5399929762484854e-05


class Surrogate(torch.nn.Module):
    """acc: a bowl in log(cost) centred per task, with the kernel's own parameter."""

    def forward(self, x_cont: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        cost, gamma, tolerance, degree, trainsize, repl = (x_cont[:, i] for i in range(6))
        task, kernel, impute = (x_cat[:, i] for i in range(3))
        radial, poly = (kernel == 3).float(), (kernel == 2).float()
        log_gamma = torch.log(torch.clamp(gamma, min=LOW))
        acc = (0.95 - (torch.log(cost) - task.float()) ** 2 / 50
               - radial * (log_gamma + 2) ** 2 / 80 - poly * (0.03 + (degree - 3) ** 2 / 50)
               - (1 - radial - poly) * 0.06 - 0.01 * (impute == 1).float()
               - 0.05 * (1 - trainsize) + 0.001 * repl / 10 + 0.001 * torch.log(tolerance + 1))
        off_data = ((gamma != 0) & (kernel != 3)) | ((degree != 0) & (kernel != 2))
        acc = torch.clamp(acc - 0.2 * off_data.float(), 0.0, 1.0)
        seconds = 1 + torch.exp(torch.log(cost) / 10) * trainsize
        return torch.stack([acc, acc - 0.02, acc + 0.01, 1 - acc, acc - 0.01, 1 - acc,
                            seconds, seconds / 10, 100 + 10 * trainsize], 1)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    hyperparameters = [
        {"name": "cost", "type": "uniform_float", "log": True, "lower": LOW,
         "upper": 22026.465794806718, "default": 1.0},
        {"name": "degree", "type": "uniform_int", "log": False, "lower": 2, "upper": 5,
         "default": 3},
        {"name": "gamma", "type": "uniform_float", "log": True, "lower": LOW,
         "upper": 22026.465794806718, "default": 1.0},
        {"name": "kernel", "type": "categorical", "choices": ["linear", "polynomial", "radial"],
         "default": "radial", "probabilities": None},
        {"name": "num.impute.selected.cpo", "type": "categorical",
         "choices": ["impute.mean", "impute.median", "impute.hist"], "default": "impute.mean",
         "probabilities": None},
        {"name": "repl", "type": "uniform_int", "log": False, "lower": 1, "upper": 10,
         "default": 10},
        {"name": "task_id", "type": "categorical", "choices": TASKS, "default": TASKS[0],
         "probabilities": None},
        {"name": "tolerance", "type": "uniform_float", "log": True, "lower": LOW, "upper": 2.0,
         "default": 0.001},
        {"name": "trainsize", "type": "uniform_float", "log": False, "lower": 0.03,
         "upper": 1.0, "default": 0.525},
    ]
    conditions = [{"child": "degree", "parent": "kernel", "type": "EQ", "value": "polynomial"},
                  {"child": "gamma", "parent": "kernel", "type": "EQ", "value": "radial"}]
    (OUT / "config_space.json").write_text(json.dumps(
        {"hyperparameters": hyperparameters, "conditions": conditions, "forbiddens": [],
         "python_module_version": "0.4.19", "json_format_version": 0.2}, indent=2) + "\n")
    encoding = {"task_id": {"#na#": 0, **{t: i + 1 for i, t in enumerate(TASKS)}},
                "kernel": {"#na#": 0, "linear": 1, "polynomial": 2, "radial": 3},
                "num.impute.selected.cpo": {"#na#": 0, "impute.hist": 1, "impute.mean": 2,
                                            "impute.median": 3}}
    (OUT / "encoding.json").write_text(json.dumps(encoding, indent=2) + "\n")
    torch.onnx.export(Surrogate(), (torch.ones(2, 6), torch.ones(2, 3, dtype=torch.int32)),
                      str(OUT / "model.onnx"), dynamo=False, opset_version=13,
                      input_names=["x_cont", "x_cat"],
                      output_names=["output"],
                      dynamic_axes={"x_cont": {0: "batch_size"}, "x_cat": {0: "batch_size"},
                                    "output": {0: "batch_size"}})


if __name__ == "__main__":
    main()
