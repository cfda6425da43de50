from setuptools import setup

setup(
    name="hypersp-example-plugin",
    version="0.1.0",
    description="Example third-party hypersp plugin: a small BiLSTM-CTC model registered as 'bilstm'.",
    packages=["hypersp_example_plugin"],
    package_data={"hypersp_example_plugin": ["presets/*.yaml"]},
    install_requires=["hypersp"],
    # hypersp imports this module on start-up; importing it runs @register_model("bilstm").
    entry_points={"hypersp.plugins": ["bilstm = hypersp_example_plugin.bilstm"]},
)
