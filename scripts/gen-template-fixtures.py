#!/usr/bin/env python3
"""gen-template-fixtures.py — record llama.cpp's chat-template renderings as fixtures.

Why: parley's engine/template.c re-implements llama.cpp's built-in chat templates
(llama_chat_apply_template, which does not run Jinja). The unit tests compare our
output byte for byte with what llama.cpp produced for the same conversation, so
this script asks llama.cpp (through llama-cpp-python's low-level binding, no model
needed) and writes:

  tests/fixtures/templates/builtin.json  every built-in template NAME x conversation x add_gen
  tests/fixtures/templates/detect.json   real tokenizer.chat_template Jinja strings of
                                         model families (incl. the default SmolLM2 model):
                                         what llama.cpp renders when given the Jinja text
                                         (its detection picks a built-in), and what the
                                         Jinja itself would render (jinja2), for reference.

Run: ~/.cache/parley/lcpp-venv/bin/python scripts/gen-template-fixtures.py [model.gguf]
Only this script needs llama.cpp; the tests read the JSON.
"""
import ctypes
import json
import os
import sys

import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "templates")
DEFAULT_MODEL = os.path.expanduser(
    "~/.local/share/parley/models/SmolLM2-135M-Instruct.Q4_1.gguf")

CONVERSATIONS = {
    "sys_user": [("system", "You are a helpful assistant"), ("user", "Hello")],
    "user_only": [("user", "Hello")],
    "multi": [("system", "You are a helpful assistant"), ("user", "Hello"),
              ("assistant", "Hi there"), ("user", "Who are you"),
              ("assistant", "   I am an assistant   "), ("user", "Another question")],
    "no_system_multi": [("user", "2+2?"), ("assistant", "4"), ("user", "and 3+3?")],
    "unicode": [("system", "  Réponds en français 🙂\n"), ("user", "Qu'est-ce que ÷ ∑ 日本語?"),
                ("assistant", "  Voilà — ✓  "), ("user", "Merci\n\nencore")],
    "two_systems": [("system", "Rule one."), ("system", " Rule two. "), ("user", "Go")],
    "empty_user": [("user", "")],
    "padded": [("system", "  sys  "), ("user", " hi\t"), ("assistant", "\n yo \n"),
               ("user", "  q  ")],
}

# Real tokenizer.chat_template strings (model metadata from the models' tokenizer
# configs), keyed by model family. Only the distinctive markers matter for detection.
JINJA = {
    "OpenHermes-2.5 (chatml)":
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    "Mistral-7B-Instruct-v0.2 (llama2)":
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
    "Llama-2-chat (llama2-sys)":
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
    "FusionNet_34Bx2 (llama2-sys-bos)":
        "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' -%}\n{%- if idx > 1 -%}\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}\n{%- else -%}\n{{- messages[idx]['content'] + ' [/INST]' -}}\n{%- endif -%}\n{% elif messages[idx]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + messages[idx]['content'] + '\\n<</SYS>>\\n\\n' -}}\n{%- elif messages[idx]['role'] == 'assistant' -%}\n{{- ' '  + messages[idx]['content'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}",
    "Mistral-7B-Instruct v1 template (mistral-v1)":
        "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if message['role'] == 'user' %}\n        {%- if loop.first and system_message is defined %}\n            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n    {%- endif %}\n{%- endfor %}\n",
    "Mistral-Large-2407 (mistral-v3)":
        "{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if message[\"role\"] == \"user\" %}\n        {%- if tools is not none and (message == user_messages[-1]) %}\n            {{- \"[AVAILABLE_TOOLS] [\" }}{{- \"[/AVAILABLE_TOOLS]\" }}\n            {%- endif %}\n            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n    {%- elif message[\"role\"] == \"assistant\" %}\n        {{- \" \" + message[\"content\"]|trim + eos_token}}\n    {%- endif %}\n{%- endfor %}\n",
    "Mistral-Nemo-2407 (mistral-v3-tekken)":
        "{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if message[\"role\"] == \"user\" %}\n        {%- if tools is not none and (message == user_messages[-1]) %}\n            {{- \"[AVAILABLE_TOOLS][\" }}{{- \"[/AVAILABLE_TOOLS]\" }}\n            {%- endif %}\n            {{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}\n    {%- elif message[\"role\"] == \"assistant\" %}\n        {{- message[\"content\"] + eos_token}}\n    {%- endif %}\n{%- endfor %}\n",
    "Mistral-Small-24B-2501 (mistral-v7)":
        "{{- bos_token }}{%- for message in messages %}{%- if message['role'] == 'system' %}{{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}{%- elif message['role'] == 'user' %}{{- '[INST]' + message['content'] + '[/INST]' }}{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}{%- endif %}{%- endfor %}",
    "gemma-7b-it (gemma)":
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
    "Meta-Llama-3-8B-Instruct (llama3)":
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
    "Phi-3-mini (phi3)":
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}",
    "phi-4 (phi4)":
        "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'assistant') %}{{'<|im_start|>assistant<|im_sep|>' + message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}",
    "deepseek-coder-33b-instruct (deepseek)":
        "{{bos_token}}{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- else %}\n        {%- if message['role'] == 'user' %}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n        {%- else %}\n{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}",
    "DeepSeek-V2-Lite-Chat (deepseek2)":
        "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
    "DeepSeek-R1-Distill (deepseek3)":
        "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}{% if add_generation_prompt %}{{'<｜Assistant｜>'}}{% endif %}",
    "zephyr (stablelm)":
        "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}<|endoftext|>",
    "c4ai-command-r-plus (command-r)":
        "{{ bos_token }}{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}",
    "vicuna-13b-1.1 (vicuna)":
        "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{- '' + message['content'] + '\n\n' -}}{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] + '\n'-}}{%- else -%}{{-'ASSISTANT: ' + message['content'] + '</s>\n' -}}{%- endif -%}{%- endif -%}{%- endfor -%}{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}",
    "openchat-3.5-0106 (openchat)":
        "{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + message['role'].title() + ': ' + message['content'] + '<|end_of_turn|>'}}{% endfor %}{% if add_generation_prompt %}{{ 'GPT4 Correct Assistant:' }}{% endif %}",
    "granite-3.0-8b-instruct (granite)":
        "{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n    {{- '<|start_of_role|>system<|end_of_role|>' + message['content'] + '<|end_of_text|>\n' }}\n    {%- elif message['role'] == 'user' %}\n    {{- '<|start_of_role|>user<|end_of_role|>' + message['content'] + '<|end_of_text|>\n' }}\n    {%- elif message['role'] == 'assistant' %}\n    {{- '<|start_of_role|>assistant<|end_of_role|>'  + message['content'] + '<|end_of_text|>\n' }}\n    {%- endif %}\n    {%- if loop.last and add_generation_prompt %}\n    {{- '<|start_of_role|>assistant<|end_of_role|>' }}\n    {%- endif %}\n{%- endfor %}",
}


class Msg(ctypes.Structure):
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


def render(tmpl, conv, add_gen):
    """llama.cpp's rendering, or None when it reports the template unsupported (-1)."""
    msgs = (llama_cpp.llama_chat_message * len(conv))()
    keep = []
    for i, (role, content) in enumerate(conv):
        r, c = role.encode(), content.encode()
        keep += [r, c]
        msgs[i].role, msgs[i].content = r, c
    size = 256
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_chat_apply_template(tmpl.encode(), msgs, len(conv), add_gen, buf, size)
        if n < 0:
            return None
        if n < size:
            return buf.raw[:n].decode()
        size = n + 1


def builtin_names():
    n = llama_cpp.llama_chat_builtin_templates(None, 0)
    arr = (ctypes.c_char_p * n)()
    llama_cpp.llama_chat_builtin_templates(arr, n)
    return [a.decode() for a in arr]


def jinja_render(src, conv, add_gen, bos="", eos=""):
    """What the Jinja template itself renders (reference only), or an error text."""
    try:
        import jinja2
        env = jinja2.Environment()
        env.globals["raise_exception"] = lambda m: (_ for _ in ()).throw(Exception(m))
        t = env.from_string(src)
        msgs = [{"role": r, "content": c} for r, c in conv]
        return t.render(messages=msgs, add_generation_prompt=add_gen,
                        bos_token=bos, eos_token=eos)
    except Exception as e:  # noqa: BLE001 - recorded, not fatal
        return "ERROR: %s" % e


def gguf_template(path):
    import gguf
    r = gguf.GGUFReader(path)
    f = r.fields["tokenizer.chat_template"]
    return bytes(f.parts[f.data[0]]).decode()


def versions():
    libdir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    libs = sorted(x for x in os.listdir(libdir) if x.count(".") >= 4)
    return {"llama_cpp_python": llama_cpp.__version__, "shared_libs": libs}


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    conv_json = {k: [{"role": r, "content": c} for r, c in v] for k, v in CONVERSATIONS.items()}
    cases, unsupported = [], []
    for name in builtin_names():
        for cname, conv in CONVERSATIONS.items():
            for add_gen in (True, False):
                out = render(name, conv, add_gen)
                if out is None:
                    unsupported.append(name)
                    break
                cases.append({"template": name, "conversation": cname,
                              "add_gen": add_gen, "output": out})
    builtin = {"generator": "scripts/gen-template-fixtures.py", "versions": versions(),
               "note": "llama_chat_apply_template(NAME, ...) renderings; no Jinja involved",
               "conversations": conv_json, "names": builtin_names(),
               "unsupported_by_llama": sorted(set(unsupported)), "cases": cases}

    jinja = dict(JINJA)
    jinja["SmolLM2-135M-Instruct (default model, from GGUF)"] = gguf_template(model)
    detect = []
    for label, src in jinja.items():
        entry = {"model": label, "jinja": src, "renders": []}
        for cname in ("multi", "unicode", "user_only"):
            conv = CONVERSATIONS[cname]
            out = render(src, conv, True)
            same = [n for n in builtin_names() if render(n, conv, True) == out] if out else []
            entry["renders"].append({"conversation": cname, "add_gen": True, "llama_cpp": out,
                                     "same_as_builtin": same,
                                     "jinja_reference": jinja_render(src, conv, True)})
        detect.append(entry)
    detect_doc = {"generator": "scripts/gen-template-fixtures.py", "versions": versions(),
                  "note": "llama_chat_apply_template(JINJA_TEXT, ...): llama.cpp detects a "
                          "built-in from the text; jinja_reference is what the Jinja itself "
                          "renders (jinja2, bos/eos empty), for comparison only",
                  "conversations": conv_json, "templates": detect}
    os.makedirs(OUT, exist_ok=True)
    for fname, doc in (("builtin.json", builtin), ("detect.json", detect_doc)):
        with open(os.path.join(OUT, fname), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print("wrote %d builtin cases (%d names unsupported by llama.cpp: %s), %d detect templates"
          % (len(cases), len(set(unsupported)), sorted(set(unsupported)), len(detect)))


if __name__ == "__main__":
    main()
