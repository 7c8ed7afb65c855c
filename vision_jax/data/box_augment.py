"""SSD's tf.data augmentation, keeping boxes consistent with the image (Liu et al. 2016, sec. 2.2/3.6):
photometric distortion, zoom-out expansion, the min-IoU random-crop sampler, horizontal flip.

Images are float32 HWC in [0, 1]; boxes are (G, 4) normalised [ymin, xmin, ymax, xmax] with a
(G,) bool `valid` mask (ground truth padded to a fixed count). Every random op is stateless and
takes a `key` (shape [2], int64), so augmentation is reproducible and resumable.
"""

import tensorflow as tf

MIN_IOUS = (-1.0, 0.1, 0.3, 0.5, 0.7, 0.9, 2.0)  # -1: any crop; 2.0: keep the whole image


def uniform(key, shape=(), minval=0.0, maxval=1.0):
  return tf.random.stateless_uniform(shape, seed=key, minval=minval, maxval=maxval)


def sanitize_boxes(boxes: tf.Tensor, valid: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Orders each box's corners (mock data can give ymin > ymax), clips to the image, and marks
  boxes without area invalid."""
  ys, xs = tf.sort(tf.gather(boxes, [0, 2], axis=-1), -1), tf.sort(tf.gather(boxes, [1, 3], axis=-1), -1)
  boxes = tf.clip_by_value(tf.stack([ys[:, 0], xs[:, 0], ys[:, 1], xs[:, 1]], -1), 0.0, 1.0)
  has_area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
  return boxes, valid & has_area


def photometric_distort(image: tf.Tensor, key: tf.Tensor, brightness: float = 32 / 255,
                        gamma: float = 0.0) -> tf.Tensor:
  """Random gamma (x ** exp(U(-gamma, gamma)); 0: none), brightness (+-32/255), contrast and
  saturation (x0.5-1.5) and hue (+-18 degrees)."""
  if gamma:
    image = image ** tf.exp(uniform(key + 4, (), -gamma, gamma))
  image = tf.image.stateless_random_brightness(image, brightness, seed=key)
  image = tf.image.stateless_random_contrast(image, 0.5, 1.5, seed=key + 1)
  if image.shape[-1] == 3:
    image = tf.image.stateless_random_saturation(image, 0.5, 1.5, seed=key + 2)
    image = tf.image.stateless_random_hue(image, 18 / 360, seed=key + 3)
  return tf.clip_by_value(image, 0.0, 1.0)


def expand_geometry(h: tf.Tensor, w: tf.Tensor, key: tf.Tensor, max_ratio: float = 4.0,
                    probability: float = 0.5) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """The zoom-out's random geometry for an h x w image: canvas height and width (int32) and the
  image's top-left corner in it (float32 pixels)."""
  apply = uniform(key) < probability
  ratio = tf.where(apply, uniform(key + 1, (), 1.0, max_ratio), 1.0)
  top = tf.floor(uniform(key + 2) * (ratio - 1) * h)
  left = tf.floor(uniform(key + 3) * (ratio - 1) * w)
  canvas = tf.cast(tf.math.ceil(ratio * tf.stack([h, w])), tf.int32)
  return canvas, top, left


def boxes_in_canvas(boxes: tf.Tensor, h, w, canvas: tf.Tensor, top, left) -> tf.Tensor:
  """Normalised boxes of the h x w image, re-expressed in the canvas it was placed in."""
  size = tf.cast(tf.concat([canvas, canvas], 0), tf.float32)
  return boxes * tf.stack([h, w, h, w]) / size + tf.stack([top, left, top, left]) / size


def expand(image: tf.Tensor, boxes: tf.Tensor, key: tf.Tensor, max_ratio: float = 4.0,
           fill=(0.485, 0.456, 0.406), probability: float = 0.5) -> tuple[tf.Tensor, tf.Tensor]:
  """Zoom out: with `probability`, place the image at a random spot of a canvas up to max_ratio
  times larger, filled with `fill` (the mean); boxes shrink accordingly."""
  h, w = tf.cast(tf.shape(image)[0], tf.float32), tf.cast(tf.shape(image)[1], tf.float32)
  canvas, top, left = expand_geometry(h, w, key, max_ratio, probability)
  fill = tf.constant(fill, tf.float32)[:image.shape[-1]]
  paddings = tf.stack([[tf.cast(top, tf.int32), canvas[0] - tf.cast(top, tf.int32) - tf.shape(image)[0]],
                       [tf.cast(left, tf.int32), canvas[1] - tf.cast(left, tf.int32) - tf.shape(image)[1]],
                       [0, 0]])
  out = tf.pad(image - fill, paddings) + fill
  return out, boxes_in_canvas(boxes, h, w, canvas, top, left)


def _iou(crops: tf.Tensor, boxes: tf.Tensor) -> tf.Tensor:
  """(N, 4) x (G, 4) -> (N, G) IoU."""
  tl = tf.maximum(crops[:, None, :2], boxes[None, :, :2])
  br = tf.minimum(crops[:, None, 2:], boxes[None, :, 2:])
  inter = tf.reduce_prod(tf.maximum(br - tl, 0.0), -1)
  def area(b):
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
  return inter / tf.maximum(area(crops)[:, None] + area(boxes)[None] - inter, 1e-12)


def sample_crop(boxes: tf.Tensor, valid: tf.Tensor, key: tf.Tensor, trials: int = 50) -> tuple[tf.Tensor, tf.Tensor]:
  """SSD's sampler: pick a minimum IoU from {any, 0.1, 0.3, 0.5, 0.7, 0.9, keep the image}; try
  `trials` crops of 0.3-1 of each side with aspect 0.5-2; take the first whose IoU with every
  valid box is at least that minimum and that contains some box centre. Returns the normalised
  crop and which boxes keep their centre inside it (the whole image and `valid` if none fits)."""
  mode = tf.random.stateless_uniform((), seed=key, maxval=len(MIN_IOUS), dtype=tf.int32)
  min_iou = tf.gather(tf.constant(MIN_IOUS), mode)
  sizes = uniform(key + 1, (trials, 2), 0.3, 1.0)
  aspect_ok = (sizes[:, 0] / sizes[:, 1] >= 0.5) & (sizes[:, 0] / sizes[:, 1] <= 2.0)
  origins = uniform(key + 2, (trials, 2)) * (1.0 - sizes)
  crops = tf.concat([origins, origins + sizes], -1)
  iou = _iou(crops, boxes)
  lowest = tf.reduce_min(tf.where(valid[None], iou, 2.0), axis=1)
  centres = (boxes[:, :2] + boxes[:, 2:]) / 2
  inside = tf.reduce_all((centres[None] > crops[:, None, :2]) & (centres[None] < crops[:, None, 2:]), -1)
  inside &= valid[None]
  ok = aspect_ok & (lowest >= min_iou) & tf.reduce_any(inside, 1)
  found = tf.reduce_any(ok) & (min_iou <= 1.0)
  choice = tf.argmax(tf.cast(ok, tf.int32))
  crop = tf.where(found, tf.gather(crops, choice), tf.constant([0.0, 0.0, 1.0, 1.0]))
  return crop, tf.where(found, tf.gather(inside, choice), valid)


def pixel_window(crop: tf.Tensor, h: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
  """The normalised crop rounded to whole pixels of an h x w image: int32 (top, left, height, width)."""
  top, left = tf.cast(crop[0] * h, tf.int32), tf.cast(crop[1] * w, tf.int32)
  height = tf.maximum(tf.cast(crop[2] * h, tf.int32) - top, 1)
  width = tf.maximum(tf.cast(crop[3] * w, tf.int32) - left, 1)
  return tf.stack([top, left, height, width])


def boxes_in_window(boxes: tf.Tensor, keep: tf.Tensor, window: tf.Tensor, h, w) -> tf.Tensor:
  """Boxes clipped to the pixel window and re-normalised to it; dropped boxes become zeros."""
  window = tf.cast(window, tf.float32)
  pixel_crop = tf.stack([window[0] / h, window[1] / w, (window[0] + window[2]) / h, (window[1] + window[3]) / w])
  size = tf.concat([pixel_crop[2:] - pixel_crop[:2]] * 2, 0)
  clipped = tf.concat([tf.maximum(boxes[:, :2], pixel_crop[:2]), tf.minimum(boxes[:, 2:], pixel_crop[2:])], -1)
  new_boxes = tf.clip_by_value((clipped - tf.concat([pixel_crop[:2]] * 2, 0)) / size, 0.0, 1.0)
  return tf.where(keep[:, None], new_boxes, 0.0)


def min_iou_random_crop(image: tf.Tensor, boxes: tf.Tensor, valid: tf.Tensor, key: tf.Tensor,
                        trials: int = 50) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """sample_crop applied to the image: boxes whose centre leaves the crop become invalid; the
  others are clipped to it."""
  crop, keep = sample_crop(boxes, valid, key, trials)
  h, w = tf.cast(tf.shape(image)[0], tf.float32), tf.cast(tf.shape(image)[1], tf.float32)
  window = pixel_window(crop, h, w)
  out = tf.image.crop_to_bounding_box(image, window[0], window[1], window[2], window[3])
  return out, boxes_in_window(boxes, keep, window, h, w), keep


def resample_window(image: tf.Tensor, window: tf.Tensor, size: int, fill) -> tf.Tensor:
  """The window (top, left, height, width) in the image's pixels (it may reach outside) resampled
  bilinearly to size x size as tf.image.resize samples; pixels outside the image read as `fill`."""
  h, w = tf.cast(tf.shape(image)[0], tf.float32), tf.cast(tf.shape(image)[1], tf.float32)
  # tf.image.resize (half-pixel centres) reads output pixel i at window_start + (i + 0.5) * extent / size - 0.5;
  # crop_and_resize reads y1 * (h - 1) + i * (y2 - y1) * (h - 1) / (size - 1): match the two.
  first_y = window[0] + 0.5 * window[2] / size - 0.5
  first_x = window[1] + 0.5 * window[3] / size - 0.5
  step_y, step_x = window[2] / size, window[3] / size
  y1, x1 = first_y / tf.maximum(h - 1, 1.0), first_x / tf.maximum(w - 1, 1.0)
  y2 = (first_y + step_y * (size - 1)) / tf.maximum(h - 1, 1.0)
  x2 = (first_x + step_x * (size - 1)) / tf.maximum(w - 1, 1.0)
  fill = tf.constant(fill, tf.float32)[:image.shape[-1]]
  return tf.image.crop_and_resize((image - fill)[None], tf.stack([y1, x1, y2, x2])[None], [0], (size, size),
                                  extrapolation_value=0.0)[0] + fill


def expand_crop_resize(image: tf.Tensor, boxes: tf.Tensor, valid: tf.Tensor, key: tf.Tensor, size: int,
                       fill=(0.485, 0.456, 0.406)) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """expand (key), min_iou_random_crop (key + 10) and a bilinear resize to size x size in one
  resampling of the original image: the same random geometry and boxes, without building the
  up-to-16x canvas. Canvas pixels outside the image read as `fill`."""
  h, w = tf.cast(tf.shape(image)[0], tf.float32), tf.cast(tf.shape(image)[1], tf.float32)
  canvas, top, left = expand_geometry(h, w, key)
  boxes = boxes_in_canvas(boxes, h, w, canvas, top, left)
  crop, keep = sample_crop(boxes, valid, key + 10)
  ch, cw = tf.cast(canvas[0], tf.float32), tf.cast(canvas[1], tf.float32)
  window = pixel_window(crop, ch, cw)
  fw = tf.cast(window, tf.float32)
  out = resample_window(image, tf.stack([fw[0] - top, fw[1] - left, fw[2], fw[3]]), size, fill)
  return out, boxes_in_window(boxes, keep, window, ch, cw), keep


def flip_with_boxes(image: tf.Tensor, boxes: tf.Tensor, key: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Horizontal flip with probability 1/2, mirroring the boxes' x coordinates."""
  flip = uniform(key) < 0.5
  image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
  mirrored = tf.stack([boxes[:, 0], 1.0 - boxes[:, 3], boxes[:, 2], 1.0 - boxes[:, 1]], -1)
  return image, tf.where(flip, mirrored, boxes)
