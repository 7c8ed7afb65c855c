"""GAN machinery shared by the GAN and inpainting tasks: adversarial losses and penalties."""
