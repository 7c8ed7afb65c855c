"""Benchmark results as a console line, JAX/PyTorch ratios and a markdown table in RESULTS.md."""

import datetime
import os
import platform


def environment(environ: dict = None) -> dict:
  """Date, devices, CPU, XLA_FLAGS, GLIBC_TUNABLES (of `environ`, the measurements' environment) and
  library versions of this run."""
  environ = os.environ if environ is None else environ
  import jax
  versions = {'python': platform.python_version(), 'jax': jax.__version__}
  for name in ('jaxlib', 'flax', 'optax', 'torch'):
    try:
      versions[name] = __import__(name).__version__
    except ImportError:
      pass
  cpu = platform.processor()
  try:
    with open('/proc/cpuinfo') as f:
      cpu = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), cpu)
  except OSError:
    pass
  devices = jax.devices()
  return {'date': datetime.date.today().isoformat(), 'backend': jax.default_backend(),
          'device': devices[0].device_kind, 'device_count': len(devices), 'cpu': cpu,
          'cpu_cores': os.cpu_count(), 'xla_flags': environ.get('XLA_FLAGS', ''),
          'glibc_tunables': environ.get('GLIBC_TUNABLES', ''), 'versions': versions}


def environment_line(env: dict) -> str:
  versions = ', '.join(f'{k} {v}' for k, v in env['versions'].items())
  return (f'{env["date"]} · {env["device_count"]}x {env["device"]} ({env["backend"]}) · CPU {env["cpu"]}, '
          f'{env["cpu_cores"]} cores · {versions}' + (f' · XLA_FLAGS={env["xla_flags"]}' if env['xla_flags'] else '')
          + (f' · GLIBC_TUNABLES={env["glibc_tunables"]}' if env.get('glibc_tunables') else ''))


def row_line(row: dict) -> str:
  if 'error' in row:
    return f'{row["model"]:>9} {row["framework"]:<13} ERROR {row["error"]}'
  return (f'{row["model"]:>9} {row["framework"]:<13} batch {row["batch"]:>4}  train {row["images_per_sec"]:9.1f} img/s  '
          f'eval {row["eval_images_per_sec"]:9.1f} img/s  compile {row["compile_s"]:6.1f} s  '
          f'peak RSS {row["peak_rss_mb"]:7.0f} MB')


def ratios(rows: list[dict]) -> dict:
  """Per model: JAX train (and eval) images/s over the best PyTorch variant's."""
  out = {}
  for model in dict.fromkeys(r['model'] for r in rows):
    ok = [r for r in rows if r['model'] == model and 'error' not in r]
    jax_rows = {r['framework']: r for r in ok if r['framework'].startswith('jax')}
    torch_rows = [r for r in ok if not r['framework'].startswith('jax')]
    if jax_rows and torch_rows:
      best = max(torch_rows, key=lambda r: r['images_per_sec'])
      best_eval = max(torch_rows, key=lambda r: r['eval_images_per_sec'])
      ours = jax_rows.get('jax') or next(iter(jax_rows.values()))
      out[model] = {'train': ours['images_per_sec'] / best['images_per_sec'], 'vs': best['framework'],
                    'eval': ours['eval_images_per_sec'] / best_eval['eval_images_per_sec'],
                    'eval_vs': best_eval['framework']}
      if 'jax_onednn' in jax_rows:
        onednn = jax_rows['jax_onednn']
        out[model].update(train_onednn=onednn['images_per_sec'] / best['images_per_sec'],
                          eval_onednn=onednn['eval_images_per_sec'] / best_eval['eval_images_per_sec'])
  return out


def table(results: dict) -> str:
  lines = [environment_line(results['environment']), '',
           '| model | framework | batch | dtype | train img/s | median step ms | pipelined img/s | compile s | '
           'eval img/s | peak RSS MB | device peak MB | XLA temp MB |',
           '|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|']
  fmt = lambda r, k, spec: format(r[k], spec) if k in r else '-'
  for r in results['results']:
    if 'error' in r:
      lines.append(f'| {r["model"]} | {r["framework"]} | | | failed: {r["error"]} | | | | | | | |')
      continue
    lines.append(f'| {r["model"]} | {r["framework"]} | {r["batch"]} | {r["dtype"]} | {r["images_per_sec"]:.1f} | '
                 f'{r["median_step_ms"]:.1f} | {fmt(r, "pipelined_images_per_sec", ".1f")} | {r["compile_s"]:.1f} | {r["eval_images_per_sec"]:.1f} | '
                 f'{r["peak_rss_mb"]:.0f} | {fmt(r, "device_peak_mb", ".0f")} | {fmt(r, "xla_temp_mb", ".0f")} |')
  if results['ratios']:
    lines += ['', '| model | JAX / PyTorch train | (best PyTorch) | JAX / PyTorch eval | (best PyTorch) | '
              'jax_onednn / PyTorch train | jax_onednn / PyTorch eval |', '|---|---:|---|---:|---|---:|---:|']
    for model, r in results['ratios'].items():
      lines.append(f'| {model} | {r["train"]:.2f} | {r["vs"]} | {r["eval"]:.2f} | {r["eval_vs"]} | '
                   f'{fmt(r, "train_onednn", ".2f")} | {fmt(r, "eval_onednn", ".2f")} |')
  if results.get('pipelines'):
    lines += ['', '| input pipeline | img/s per core (1 tf.data thread) | img/s all cores |', '|---|---:|---:|']
    for name, p in results['pipelines'].items():
      lines.append(f'| {name} | {p["images_per_sec_per_core"]:.1f} | '
                   f'{fmt(p, "images_per_sec_all_cores", ".1f")} ({p["cores"]} cores) |')
  return '\n'.join(lines)


def replace_section(path: str, label: str, body: str) -> None:
  """Replaces the text between `label`'s markers in the markdown at `path` (appends it the first time),
  leaving everything else as written."""
  start, end = f'<!-- results:{label} -->', f'<!-- /results:{label} -->'
  section = f'{start}\n### {label}\n\n{body}\n{end}'
  text = open(path).read() if os.path.exists(path) else '# Benchmark results\n'
  if start in text and end in text:
    text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
  else:
    text = text.rstrip('\n') + '\n\n' + section + '\n'
  with open(path, 'w') as f:
    f.write(text)


def update_markdown(path: str, results: dict) -> None:
  replace_section(path, results.get('label') or 'latest', table(results))
