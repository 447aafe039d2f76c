"""Preprocessing: Standardize, Center, Whiten, Compose, Lambda, ToTensor and their state."""
import numpy as np
import pytest

import locograd as lg
from locograd import data


@pytest.fixture(scope="module")
def digits():
    images, labels = data.load_digits()
    return images, labels


def _image_batch(seed=0):
    rng = np.random.default_rng(seed)
    channels = rng.standard_normal((200, 3, 5, 4)).astype(np.float32)
    return channels * np.array([1.0, 5.0, 0.1], np.float32)[:, None, None] + \
        np.array([3.0, -2.0, 0.5], np.float32)[:, None, None]


def test_standardize_per_feature_zero_mean_unit_variance(digits):
    images, _ = digits
    flat = images.reshape(len(images), -1)
    scale = data.Standardize().fit(flat)
    out = scale(flat)
    assert out.dtype == np.float32 and out.shape == flat.shape
    varying = flat.std(axis=0) > 0
    np.testing.assert_allclose(out.mean(axis=0, dtype=np.float64), 0.0, atol=1e-5)
    np.testing.assert_allclose(out[:, varying].std(axis=0, dtype=np.float64), 1.0, atol=1e-4)
    assert np.all(out[:, ~varying] == 0.0)  # constant pixels: eps floor, no NaN
    reference = (flat.astype(np.float64) - flat.mean(0, dtype=np.float64)) / \
        np.maximum(flat.std(0, dtype=np.float64), 1e-6)
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)


def test_standardize_per_channel_nchw():
    batch = _image_batch()
    scale = data.Standardize(per_channel=True).fit(batch)
    assert scale.mean.shape == (3, 1, 1) and scale.std.shape == (3, 1, 1)
    np.testing.assert_allclose(scale.mean.ravel(), batch.mean(axis=(0, 2, 3), dtype=np.float64),
                               rtol=1e-6)
    out = scale(batch)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3), dtype=np.float64), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3), dtype=np.float64), 1.0, atol=1e-5)
    # one sample gives the rows of the batch result; other image sizes work per channel
    np.testing.assert_array_equal(scale(batch[7]), out[7])
    assert scale(np.zeros((3, 9, 9), np.float32)).shape == (3, 9, 9)


def test_standardize_dtypes_kinds_and_errors():
    batch = _image_batch()
    scale = data.Standardize(per_channel=True).fit(batch)
    assert scale(batch.astype(np.float64)).dtype == np.float64
    assert scale(np.zeros((3, 2, 2), np.uint8)).dtype == np.float32  # integers -> float32
    as_tensor = scale(lg.tensor(batch[0]))
    assert isinstance(as_tensor, lg.Tensor) and np.array_equal(as_tensor.data, scale(batch[0]))
    with pytest.raises(ValueError, match=r"statistics have shape \(3, 1, 1\).*got shape "
                                         r"\(2, 5, 4\)"):
        scale(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(RuntimeError, match="not fitted"):
        data.Standardize()(batch)
    with pytest.raises(ValueError, match="per_channel needs data of shape"):
        data.Standardize(per_channel=True).fit(np.zeros(5))
    with pytest.raises(ValueError, match="eps must be positive"):
        data.Standardize(eps=0)


def test_standardize_fit_from_a_dataset_and_known_statistics(digits):
    images, labels = digits
    from_array = data.Standardize(per_channel=True).fit(images)
    from_dataset = data.Standardize(per_channel=True).fit(data.ArrayDataset(images, labels))
    from_tensor_ds = data.Standardize(per_channel=True).fit(data.TensorDataset(images, labels))
    np.testing.assert_allclose(from_dataset.mean, from_array.mean, rtol=1e-12)
    np.testing.assert_allclose(from_tensor_ds.std, from_array.std, rtol=1e-12)
    known = data.Standardize(mean=[[[0.5]]], std=[[[0.25]]])
    assert known(np.full((1, 2, 2), 1.0, np.float32)).tolist() == [[[2.0, 2.0], [2.0, 2.0]]]


def test_center(digits):
    images, _ = digits
    center = data.Center().fit(images)
    out = center(images)
    assert out.shape == images.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0, dtype=np.float64), 0.0, atol=1e-6)
    per_channel = data.Center(per_channel=True).fit(_image_batch())
    np.testing.assert_allclose(per_channel(_image_batch()).mean(axis=(0, 2, 3)), 0.0, atol=1e-5)


@pytest.mark.parametrize("method", ["zca", "pca"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_whitening_gives_identity_covariance_on_digits(digits, method, dtype):
    images = digits[0].astype(dtype)
    white = data.Whiten(method).fit(images)
    out = white(images)
    assert out.dtype == dtype
    flat = out.reshape(len(out), -1).astype(np.float64)
    covariance = np.cov(flat, rowvar=False)
    pixels = images.reshape(len(images), -1)
    constant = pixels.std(axis=0) == 0  # 3 pixels are 0 in every image: nothing to whiten
    if method == "zca":
        assert out.shape == images.shape
        covariance = covariance[np.ix_(~constant, ~constant)]
        np.testing.assert_allclose(flat[:, constant], 0.0, atol=1e-6)
    else:
        assert out.shape == (len(images), 64 - int(constant.sum()))
    error = np.abs(covariance - np.eye(len(covariance))).max()
    assert error < 1e-3, f"{method} whitened covariance is {error} away from the identity"
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-4)


def test_zca_stays_close_to_the_input_and_pca_components(digits):
    images = digits[0]
    zca = data.Whiten("zca", eps=0.1).fit(images)
    np.testing.assert_allclose(zca.matrix, zca.matrix.T, atol=1e-12)  # ZCA: symmetric W
    pca = data.Whiten("pca", n_components=10).fit(images)
    out = pca(images)
    assert out.shape == (len(images), 10)
    np.testing.assert_allclose(np.cov(out.astype(np.float64), rowvar=False), np.eye(10),
                               atol=1e-4)
    with pytest.raises(ValueError, match="n_components=62 but the data has 61 directions"):
        data.Whiten("pca", n_components=62).fit(images)
    with pytest.raises(ValueError, match="'pca' or 'zca'"):
        data.Whiten("svd")
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(1, 8, 8\)"):
        zca(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="at least 2 samples"):
        data.Whiten().fit(images[:1])


def test_state_dict_round_trip_without_pickle(tmp_path, digits):
    images, _ = digits
    pipeline = data.Compose([data.Standardize(per_channel=True), data.Whiten("pca", eps=1e-3)])
    pipeline.fit(images)
    state = pipeline.state_dict()
    assert set(state) == {"0.mean", "0.std", "1.mean", "1.matrix", "1.eigenvalues",
                          "1.feature_shape"}
    assert all(isinstance(v, np.ndarray) for v in state.values())
    np.savez(tmp_path / "state.npz", **state)
    with np.load(tmp_path / "state.npz", allow_pickle=False) as stored:
        restored_state = dict(stored)
    restored = data.Compose([data.Standardize(per_channel=True), data.Whiten("pca", eps=1e-3)])
    restored.load_state_dict(restored_state)
    np.testing.assert_array_equal(restored(images[:5]), pipeline(images[:5]))
    with pytest.raises(KeyError, match=r"missing keys \['std'\], unexpected keys \['scale'\]"):
        data.Standardize().load_state_dict({"mean": np.zeros(2), "scale": np.ones(2)})
    with pytest.raises(KeyError, match="unexpected keys"):
        restored.load_state_dict({**restored_state, "7.mean": np.zeros(1)})


def test_compose_batched_and_per_sample_paths_agree(digits):
    images, _ = digits
    scale = data.Standardize().fit(images)
    pipeline = data.Compose([data.Lambda(lambda x: x * 2.0), scale,
                             data.Lambda(np.tanh, batched=True)])
    assert not pipeline.batched
    batch = pipeline.apply_batch(images[:16])
    single = np.stack([pipeline(image) for image in images[:16]])
    np.testing.assert_array_equal(batch, single)
    assert data.Compose([scale, data.Lambda(np.tanh, batched=True)]).batched


def test_lambda_and_to_tensor():
    with pytest.raises(TypeError, match="callable"):
        data.Lambda(3)
    assert data.Lambda(lambda x: x + 1).apply_batch(np.zeros((2, 1))).tolist() == [[1.0], [1.0]]
    image = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    tensor = data.ToTensor()(image)
    assert tensor.shape == (3, 2, 4) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor.data, image.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert data.ToTensor()(np.zeros((2, 2), np.float64)).shape == (1, 2, 2)
    with pytest.raises(ValueError, match="expected an image"):
        data.ToTensor()(np.zeros(3))
