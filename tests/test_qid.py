"""Chapter 5's pipeline: the family definition, QiD of checkpoints, fits and tables."""

import numpy as np
import pandas as pd
import pytest
import torch

from support import models
from support.profiles import resolve
from support.qid import study as qid
from support.qid.quantization import QuantConfig, quantize_model
from support.qid.scaling import PAPER_UNIFIED, qid_law, tokens_for_qid


def test_list_parameters_and_sizes_name_bad_input():
    assert resolve("local", qid.PARAMS, bits="2, 3,4").bits == (2, 3, 4)
    assert resolve("local", qid.PARAMS, bits=[2, 8]).bits == (2, 8)
    with pytest.raises(ValueError, match=r"bits: item 'three' is not a int"):
        resolve("local", qid.PARAMS, bits="2,three")
    with pytest.raises(ValueError, match=r"bits\[1\]=1 is below its minimum 2"):
        resolve("local", qid.PARAMS, bits=[4, 1])
    assert qid.parse_size("64x2") == (64, 2)
    with pytest.raises(ValueError, match="WIDTHxLAYERS"):
        qid.parse_size("64-2")
    with pytest.raises(ValueError, match="multiple of 16"):
        qid.parse_size("40x2")


def test_family_shares_data_order_and_adds_the_schedule_arm():
    cfg = resolve("local", qid.PARAMS)
    members = qid.family(cfg)
    cosine = [m for m in members if m.arm == "cosine"]
    assert [m.name for m in cosine] == ["d32x2", "d48x2", "d64x2", "d96x3", "d128x4"]
    assert len({(m.tiny.data_seed, m.tiny.steps, m.tiny.batch_size, m.tiny.lr) for m in members}) == 1
    arm = [m for m in members if m.arm != "cosine"]
    assert len(arm) == 1 and arm[0].tiny.schedule == "wsd" and arm[0].tiny.d_model == 64
    assert arm[0].tiny.checkpoint_steps == cosine[2].tiny.checkpoint_steps
    assert cosine[0].tokens(3000) == 3000 * 16 * 128
    assert all(m.tiny.arch == "gpt_neox" for m in members)


def test_family_from_hub_ids_uses_pythia_steps_and_refuses_a_schedule_arm():
    cfg = resolve("paper", qid.PARAMS)
    members = qid.family(cfg)
    assert [m.hub_id for m in members][:2] == ["EleutherAI/pythia-70m", "EleutherAI/pythia-160m"]
    assert members[0].tokens(1000) == 1000 * 2_097_152 and members[0].steps[-1] == 143000
    with pytest.raises(ValueError, match="schedule_arm"):
        qid.family(resolve("paper", qid.PARAMS, schedule_arm="constant"))


def test_the_final_model_is_always_measured_and_later_checkpoints_are_refused():
    cfg = resolve("smoke", qid.PARAMS, checkpoints="10,20", train_steps=40)
    assert qid.tiny_config(cfg, "16x1").checkpoint_steps == (10, 20, 40)
    with pytest.raises(ValueError, match=r"checkpoints \[80\] lie beyond train_steps=40"):
        qid.tiny_config(resolve("smoke", qid.PARAMS, checkpoints="10,80", train_steps=40), "16x1")


def test_sequential_gptq_is_the_default_and_one_pass_remains_an_option():
    assert all(c.sequential for c in qid.quant_configs(resolve("local", qid.PARAMS)))
    assert not any(c.sequential for c in qid.quant_configs(resolve("local", qid.PARAMS, sequential=False)))


def test_bits_outside_range_are_refused():
    with pytest.raises(ValueError, match="bits"):
        qid.quant_configs(resolve("smoke", qid.PARAMS, bits="1,4"))


def _tiny_model(seed=0):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(seed)
    config = GPTNeoXConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=128, max_position_embeddings=32)
    return GPTNeoXForCausalLM(config).eval()


def test_checkpoint_qid_is_near_zero_at_8_bits_and_grows_as_bits_fall():
    model = _tiny_model()
    ids = torch.randint(0, 64, (4096,), generator=torch.Generator().manual_seed(0))
    calibration = ids[:512].view(16, 32)
    held_out = ids[512:512 + 96 * 32].view(96, 32)
    configs = [QuantConfig(b) for b in (2, 4, 8)]
    table = qid.checkpoint_qid(model, configs, calibration, held_out).set_index("bits")
    assert table["loss_full"].iloc[0] == pytest.approx(models.eval_loss(model, ids[512:512 + 96 * 32 + 1], 32))
    deltas = table["qid"]
    assert abs(deltas[8]) < 1e-3
    assert deltas[2] > deltas[4] > deltas[8] - 1e-4
    assert table["eval_tokens"].iloc[0] == 96 * 32


def test_qid_standard_error_is_the_paired_spread_over_windows():
    model = _tiny_model()
    ids = torch.randint(0, 64, (2048,), generator=torch.Generator().manual_seed(1))
    calibration, held_out = ids[:512].view(16, 32), ids[512:].view(-1, 32)
    config = QuantConfig(3)
    row = qid.checkpoint_qid(model, [config], calibration, held_out).iloc[0]
    quantized = quantize_model(model, config, calibration)
    diffs = []
    for window in held_out:  # one window at a time, by hand
        with torch.no_grad():
            pair = [float(models.next_token_nll(m, window[None]).mean()) for m in (quantized, model)]
        diffs.append(pair[0] - pair[1])
    diffs = np.array(diffs)
    assert row["qid"] == pytest.approx(diffs.mean(), abs=1e-6)
    assert row["qid_se"] == pytest.approx(diffs.std(ddof=1) / np.sqrt(len(diffs)), rel=1e-4)


def test_spread_windows_are_evenly_spaced_whole_windows():
    ids = torch.arange(100)
    windows = models.spread_windows(ids, 3, 10)
    assert windows[:, 0].tolist() == [0, 40, 90]  # windows 0, 4.5 -> 4, 9 of ten
    assert torch.equal(windows[1], torch.arange(40, 50))
    assert models.spread_windows(ids, 50, 10).shape == (10, 10)


def test_quantization_variants_of_a_one_block_member():
    cfg = resolve("smoke", qid.PARAMS)
    member = qid.tiny_member(cfg, "16x1")  # one block: sequential and one-pass GPTQ see the same inputs
    table = qid.variant_qid(member, cfg, progress=False)
    assert set(table["variant"]) == set(qid.VARIANTS) and set(table["bits"]) == set(cfg.fit_bits)
    assert len(table) == len(member.steps) * len(cfg.fit_bits) * len(qid.VARIANTS)
    wide = table.pivot_table(index=["step", "bits"], columns="variant", values="qid")
    assert np.array_equal(wide["default"], wide["one-pass GPTQ"])
    assert not np.allclose(wide["default"], wide["embeddings rounded too"])
    model, _ = member.load(member.steps[-1])
    share = model.get_input_embeddings().weight.numel() / sum(p.numel() for p in model.parameters())
    assert table["embedding_share"].iloc[0] == pytest.approx(share)


@pytest.mark.slow
def test_hub_member_loads_revisions_of_a_checkpoint_saved_in_hub_format(fresh_model_cache):
    cfg = resolve("smoke", qid.PARAMS)
    tiny = qid.tiny_config(cfg, "16x1")
    models.tiny_lm(tiny, progress=False)
    folder = str(tiny.folder)
    member = qid.Member("local-as-hub", "cosine", tiny.checkpoint_steps, 2_097_152, hub_id=folder)
    early, _ = member.load(tiny.checkpoint_steps[0])
    reference, _ = models.tiny_lm(tiny, revision=f"step{tiny.checkpoint_steps[0]}")
    final, _ = member.load(tiny.steps)
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        assert torch.equal(early(ids).logits, reference(ids).logits)
        assert not torch.equal(early(ids).logits, final(ids).logits)


def _law_table(noise=0.0):
    """A measurement table whose QiD follows the paper's law (plus an arm row and 8-bit noise rows)."""
    rng = np.random.default_rng(0)
    rows = []
    for n in (2e4, 8e4, 3e5):
        for step in (100, 300, 1000, 3000):
            for bits in (2, 3, 4, 8):
                tokens = step * 2048
                value = float(qid_law(n, tokens, bits, **PAPER_UNIFIED)) * np.exp(noise * rng.standard_normal())
                rows.append({"member": f"n{n:g}", "arm": "cosine", "n_params": n, "step": step, "tokens": tokens,
                             "bits": bits, "qid": value if bits < 8 else -1e-5})
    rows.append({"member": "arm", "arm": "wsd", "n_params": 8e4, "step": 3000, "tokens": 3000 * 2048, "bits": 2,
                 "qid": 10.0})
    table = pd.DataFrame(rows)
    return table.assign(tokens_per_param=table["tokens"] / table["n_params"])


def test_fits_on_a_law_generated_table_recover_the_paper_exponents():
    cfg = resolve("local", qid.PARAMS, fit_min_tokens_per_param=2.0)
    table = _law_table()
    points = qid.fit_points(table, cfg)
    assert set(points["bits"]) == {2, 3, 4} and set(points["arm"]) == {"cosine"}
    # D/N >= 2 keeps steps >= 100 of N=2e4 and 8e4 but only steps >= 300 of N=3e5 (300 * 2048 / 3e5 = 2.05)
    assert points.groupby("n_params")["step"].min().to_dict() == {2e4: 100, 8e4: 100, 3e5: 300}
    fits = qid.fit_all(points, n_boot=20)
    for name in ("alpha", "beta", "gamma"):
        assert fits["unified"].params[name] == pytest.approx(PAPER_UNIFIED[name], rel=1e-6)
        assert fits[f"one-factor {name}"].params[name] == pytest.approx(PAPER_UNIFIED[name], rel=1e-6)
    assert fits["2-bit only"].params["beta"] == pytest.approx(PAPER_UNIFIED["beta"], rel=1e-6)
    np.testing.assert_allclose(qid.predict(fits["unified"], points), points["qid"], rtol=1e-6)
    table = qid.exponent_table(fits)
    assert table.loc["this run, unified", "R2 (log)"] == pytest.approx(1.0)
    assert table.loc["paper, unified (Pythia)", "beta"] == "0.5251"


def test_training_tokens_table_inverts_the_law():
    table = qid.training_tokens_table({"paper": PAPER_UNIFIED}, {"7B": 7e9}, bits=(2, 3), qid=0.2)
    tokens = table.loc[("paper", "7B"), "2-bit"]
    assert tokens == pytest.approx(float(tokens_for_qid(7e9, 2, 0.2, **PAPER_UNIFIED)))
    assert float(qid_law(7e9, tokens, 2, **PAPER_UNIFIED)) == pytest.approx(0.2)
    assert table.loc[("paper", "7B"), "3-bit"] > tokens
